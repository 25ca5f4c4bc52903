// One evidence detector per kind of evidence behavior in the configuration.

import type { EvidenceParams } from '../../contracts/rules.schema.js';
import { beaconDetector } from './beacon.js';
import type { EvidenceDetector } from './detector.js';
import { dnsTunnelDetector } from './dns-tunnel.js';
import { exfiltrationDetector } from './exfiltration.js';
import { floodDetector } from './flood.js';
import { newDestinationDetector } from './new-destination.js';
import { scanDetector } from './scan.js';

/** The detector for a behavior's evidence; null for 'corroborated', which the analyzer judges from the other alarms. */
export function detectorFor(p: EvidenceParams): EvidenceDetector<unknown> | null {
  switch (p.kind) {
    case 'scan':
      return scanDetector(p) as EvidenceDetector<unknown>;
    case 'beacon':
      return beaconDetector(p) as EvidenceDetector<unknown>;
    case 'dns-tunnel':
      return dnsTunnelDetector(p) as EvidenceDetector<unknown>;
    case 'flood':
      return floodDetector(p) as EvidenceDetector<unknown>;
    case 'exfiltration':
      return exfiltrationDetector(p) as EvidenceDetector<unknown>;
    case 'new-destination':
      return newDestinationDetector(p) as EvidenceDetector<unknown>;
    case 'corroborated':
      return null;
  }
}
