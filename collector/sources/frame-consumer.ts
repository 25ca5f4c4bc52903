// What every frame source (pcap replay, live libpcap capture, UDP tunnel socket) feeds: one call
// per frame, synchronous, with a Frame the source owns and reuses. The consumer must not keep the
// Frame or its buffer beyond the call, and must not allocate per call (the hot path).

import type { Frame } from '../../gre-decap/readers/frame.js';

export interface FrameConsumer {
  onFrame(f: Frame): void;
}
