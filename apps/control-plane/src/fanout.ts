// In-process listeners of one kind of message, optionally fanned out over NATS. With a bus
// attached, `publish` goes out on the subject and every control-plane replica (this one included)
// delivers what arrives to its own listeners, so each replica's clients see every replica's
// messages. Without one (unit tests), delivery is in-process. Listeners that throw are isolated
// from each other and from the publisher.

/** The part of a NATS connection fan-out needs. */
export interface FanoutBus {
  publish(subject: string, data: Uint8Array): void;
  subscribe(
    subject: string,
    opts: { callback: (err: Error | null, msg: { data: Uint8Array }) => void },
  ): { unsubscribe(): void };
}

export interface FanoutCodec<T> {
  encode(message: T): Uint8Array;
  /** Throws on a malformed message (it is dropped and reported to `attach`'s `onBadMessage`). */
  decode(data: Uint8Array): T;
}

export class Fanout<T> {
  private readonly listeners = new Set<(message: T) => void>();
  private bus?: { bus: FanoutBus; subject: string; sub: { unsubscribe(): void } };

  constructor(private readonly codec: FanoutCodec<T>) {}

  /** Routes messages through `subject` on the bus from now on. */
  attach(bus: FanoutBus, subject: string, onBadMessage?: (err: unknown) => void): void {
    const sub = bus.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        let message: T;
        try {
          message = this.codec.decode(msg.data);
        } catch (e) {
          onBadMessage?.(e);
          return;
        }
        this.deliver(message);
      },
    });
    this.bus = { bus, subject, sub };
  }

  detach(): void {
    this.bus?.sub.unsubscribe();
    this.bus = undefined;
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: (message: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(message: T): void {
    if (this.bus) this.bus.bus.publish(this.bus.subject, this.codec.encode(message));
    else this.deliver(message);
  }

  get size(): number {
    return this.listeners.size;
  }

  private deliver(message: T): void {
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch {
        // A broken listener must not stop delivery to the others.
      }
    }
  }
}
