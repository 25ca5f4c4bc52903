// A capture file opened the way `collect` and `decap` read it: through the pcap addon's read, which puts
// nothing on the JavaScript heap, and its 1 MiB window when the addon is built (gre-decap/readers/byte-source.ts);
// through fs.readSync and an 8 MiB window when it is not. With the addon each window is read on a thread of its
// own while the one before it is parsed (its ReadAhead).

import { openCapture } from '../../gre-decap/readers/capture.js';
import type { FrameReader } from '../../gre-decap/readers/frame.js';
import { nativeRead, nativeReadAhead } from './pcap-native/pcap.js';

export function openCaptureFile(path: string): FrameReader {
  return openCapture(path, { read: nativeRead(), readAhead: nativeReadAhead() });
}
