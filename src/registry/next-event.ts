/**
 * Awaiting an event instead of sleeping: resolves with the first event that `accept` takes,
 * unsubscribing afterwards; rejects with `timeoutMessage()` after timeoutMs.
 */
export function nextEvent<T>(
  subscribe: (listener: (event: T) => void) => () => void,
  timeoutMs: number,
  timeoutMessage: () => string,
  accept: (event: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(timeoutMessage())); }, timeoutMs);
    const off = subscribe((event) => {
      if (!accept(event)) return;
      clearTimeout(timer);
      off();
      resolve(event);
    });
  });
}
