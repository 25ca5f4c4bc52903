// Hand-made inspection records for unit tests: the evidence blocks of a quiet interval, to spread
// into a record literal and override what a test is about.

import type { InspectionRecord } from '../../contracts/inspection-record.js';

export function quietEvidence(dnsQueries = 0): Pick<InspectionRecord, 'connections' | 'contacts' | 'dns' | 'tls'> {
  return {
    connections: { attempted_hosts: 0, failed_hosts: 0, failed_ports: 0, refused_hosts: 0, icmp_unreachable: 0, failed_sample: [] },
    contacts: [],
    dns: {
      queries: dnsQueries, responses: dnsQueries, nxdomain: 0, servfail: 0, types: { a: dnsQueries, aaaa: 0, txt: 0, null: 0, cname: 0, mx: 0, any: 0, other: 0 },
      distinct_names: dnsQueries > 0 ? 1 : 0, name_length_max: 0, name_length_mean: 0, label_max: 0, entropy_mean: 0,
      resolvers: [], domains: [], domains_dropped: 0, names_dropped: 0, malformed: 0,
    },
    tls: { client_hellos: 0, without_sni: 0, malformed: 0 },
  };
}
