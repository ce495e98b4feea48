/**
 * The ids of a connection's spans, drawn from a pool of random bytes: 32 bytes per connection (the
 * trace id, the `sock` span id, the `send` span id) cut from a slab that `crypto.randomFillSync`
 * fills 128 connections at a time. Why not the SDK's RandomIdGenerator: it draws each id as
 * 32-bit `Math.random()` words written one by one, and the OTLP encoder then had to turn the hex
 * strings back into bytes for every span. Here the bytes are drawn once, the hex strings the logs
 * and the SpanContext need are cut from them, and the encoder copies the bytes as they are.
 *
 * A slab is never written again once handed out: connections keep their (slab, offset) until their
 * spans are exported, and the next draw takes a fresh slab.
 */
import { randomFillSync } from 'node:crypto';

/** Bytes per connection: trace id (16), `sock` span id (8), `send` span id (8). */
export const IDS_PER_CONNECTION = 32;
export const TRACE_ID_AT = 0;
export const SOCK_SPAN_ID_AT = 16;
export const SEND_SPAN_ID_AT = 24;

const CONNECTIONS_PER_SLAB = 128;
const SLAB_BYTES = IDS_PER_CONNECTION * CONNECTIONS_PER_SLAB;

/** Where one connection's ids are: `slab[at .. at + IDS_PER_CONNECTION)`. */
export class IdPool {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private next = SLAB_BYTES;

  /** The slab holding the ids of the last {@link draw}. */
  get current(): Buffer {
    return this.slab;
  }

  /** Draws one connection's ids; they are at the returned offset of {@link current}. */
  draw(): number {
    if (this.next === SLAB_BYTES) {
      // A new slab, not a refill: connections still hold the old one.
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      randomFillSync(this.slab);
      this.next = 0;
    }
    const at = this.next;
    this.next += IDS_PER_CONNECTION;
    // An all-zero id is invalid in OpenTelemetry; as the SDK does, such an id ends in 1 instead.
    nonZero(this.slab, at + TRACE_ID_AT, 16);
    nonZero(this.slab, at + SOCK_SPAN_ID_AT, 8);
    nonZero(this.slab, at + SEND_SPAN_ID_AT, 8);
    return at;
  }
}

function nonZero(slab: Buffer, at: number, length: number): void {
  for (let i = at; i < at + length; i++) if (slab[i] !== 0) return;
  slab[at + length - 1] = 1;
}
