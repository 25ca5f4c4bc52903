// Time in the generator is integer microseconds since the Unix epoch; sizes are bytes.

export const SEC = 1e6;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** TCP payload per full segment (MSS 1460: Ethernet MTU, no TCP options on data segments). */
export const MSS = 1460;
/** TLS 1.3 record overhead on application data: header 5, inner content type 1, AEAD tag 16 (RFC 8446 §5.2). */
export const TLS_OVERHEAD = 22;
