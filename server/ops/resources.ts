/**
 * An owned stack of resources for start-up and shutdown: each resource is pushed as it is opened, and disposing
 * the stack closes them in reverse order, every one of them, even when one fails to close. The shape of
 * `AsyncDisposableStack` (`use`, `adopt`, `defer`, `move`), which Node 20 does not have at run time.
 *
 * Start-up holds the stack in `await using`: a step that throws closes everything opened before it, so a failed
 * start leaves no watcher, socket or database open to keep the process alive. Once every step succeeded, `move()`
 * hands the resources to the running server, whose `close()` disposes them.
 */
type Close = () => unknown;

export class ResourceStack implements AsyncDisposable {
  private closers: Close[] = [];
  private disposed = false;

  /** Pushes a resource that disposes itself (`await using`-style); returns it. */
  use<T extends AsyncDisposable | Disposable>(resource: T): T {
    const close =
      Symbol.asyncDispose in resource
        ? () => resource[Symbol.asyncDispose]()
        : () => {
            resource[Symbol.dispose]();
          };
    this.defer(close);
    return resource;
  }

  /** Pushes `value` with the function that closes it; returns the value. */
  adopt<T>(value: T, close: (value: T) => unknown): T {
    this.defer(() => close(value));
    return value;
  }

  /** Pushes a closing step that is not a resource of its own (waiting for work in flight, say). */
  defer(close: Close): void {
    if (this.disposed) throw new Error('the resource stack is already disposed');
    this.closers.push(close);
  }

  /** A new stack holding every resource of this one, which is left empty: ownership changes hands. */
  move(): ResourceStack {
    const moved = new ResourceStack();
    moved.closers = this.closers;
    this.closers = [];
    this.disposed = true;
    return moved;
  }

  /**
   * Closes every resource, newest first, each awaited before the next. A close that fails does not stop the
   * others; the failures are thrown together at the end (one as itself, several as an AggregateError).
   */
  async disposeAsync(): Promise<void> {
    this.disposed = true;
    const closers = this.closers.reverse();
    this.closers = [];
    const errors: unknown[] = [];
    for (const close of closers) {
      try {
        await close();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'several resources failed to close');
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.disposeAsync();
  }
}
