// Preloaded into the benchmarked ssepush process (with --expose-gc): SIGUSR2 runs a full
// garbage collection, so heap and RSS figures are taken without collectable garbage.
process.on('SIGUSR2', () => {
  if (typeof globalThis.gc === 'function') globalThis.gc();
});
