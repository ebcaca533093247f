/**
 * What survives a reload but not the tab: values in sessionStorage under the client's scope
 * (server and uid), e.g. the last id and a transport that had to fall back to long-poll.
 */

function sessionStore(): Storage | null {
  try {
    return globalThis.sessionStorage || null;
  } catch {
    return null; // storage disabled (privacy settings, sandboxed frame)
  }
}

/** The narrow view the transport link needs. */
export interface Store {
  load(name: string): string | null;
  save(name: string, value: string): void;
}

export class SessionStore implements Store {
  constructor(private readonly scope: string) {}

  load(name: string): string | null {
    const store = sessionStore();
    try {
      return store ? store.getItem(`${this.scope}:${name}`) : null;
    } catch {
      return null;
    }
  }

  save(name: string, value: string): void {
    const store = sessionStore();
    try {
      if (store) store.setItem(`${this.scope}:${name}`, value);
    } catch {
      // quota or disabled storage: resuming within this page still works
    }
  }
}
