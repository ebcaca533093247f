/**
 * Write coalescing per event-loop tick. The first write of a tick to a sink goes straight out;
 * later ones in the same tick (a batch publish, a burst of pushes) are corked and leave together
 * when the tick ends. With hundreds of connections, one syscall per message per connection is
 * what saturates the CPU first. One shared `nextTick` per tick, not one per write.
 */

/** A sink that can hold writes back until `uncork`. */
export interface Corkable {
  cork?(): void;
  uncork?(): void;
}

let tickNo = 0;
let tickScheduled = false;
const corked: Corkable[] = [];

function endTick(): void {
  tickNo++;
  tickScheduled = false;
  for (const s of corked.splice(0)) s.uncork?.();
}

/** A number that changes after every tick of the event loop. */
export function currentTick(): number {
  if (!tickScheduled) {
    tickScheduled = true;
    process.nextTick(endTick);
  }
  return tickNo;
}

/** Corks `sink` until the end of the current tick (call at most once per sink per tick). */
export function corkUntilTickEnd(sink: Corkable): void {
  if (!sink.cork) return;
  sink.cork();
  corked.push(sink);
}
