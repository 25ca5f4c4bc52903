// Every error code tapwatch gives, in one table: what the control API answers (`{code, message}` with
// the HTTP status, as SORACOM's API does) and what a command or a service reports to an operator. The
// codes keep SORACOM's shape (three letters, four digits) under a TW prefix, so they never collide
// with SORACOM's own: the second letter names the area.
//   A auth, S subscribers, G groups, K keys, R requests, I device registry, X internal and upstream
//   U usage, C capture and decoding, N analyzer, P response policy, E enforcement, B store, Q Kafka,
//   M mirror wrapping (synth), T test harness

export const ERROR_CODES = {
  TWA0001: { status: 401, message: 'Missing X-Soracom-API-Key or X-Soracom-Token' },
  TWA0002: { status: 401, message: 'Invalid or expired API key or token' },
  TWA0003: { status: 401, message: 'Invalid authKeyId or authKey' },
  TWA0004: { status: 403, message: 'This key is not allowed to do that' },
  TWA0005: { status: 429, message: 'Too many requests' },
  TWS0001: { status: 404, message: 'No such subscriber' },
  TWS0002: { status: 400, message: 'No such group' },
  TWG0001: { status: 404, message: 'No such group' },
  TWG0002: { status: 409, message: 'A group with this groupId exists' },
  TWG0003: { status: 409, message: 'The group still has subscribers' },
  TWK0001: { status: 404, message: 'No such auth key' },
  TWR0001: { status: 400, message: 'Invalid request' },
  TWR0002: { status: 413, message: 'Request body too large' },
  TWR0003: { status: 415, message: 'Unsupported Content-Type' },
  TWR0004: { status: 404, message: 'No such route' },
  TWR0005: { status: 422, message: 'Idempotency-Key was used for a different request' },
  TWI0001: { status: 400, message: 'Invalid device registry' },
  TWX0001: { status: 500, message: 'Internal error' },
  TWX0002: { status: 0, message: 'The control API did not answer' },
  TWX0003: { status: 0, message: 'The control API answered with an error that is not one of its codes' },
  TWX0004: { status: 0, message: 'The control API answered with a body that is not what it promises' },
  TWU0001: { status: 0, message: 'Bad usage' },
  TWC0001: { status: 0, message: 'Not a capture file, or a corrupt one' },
  TWC0002: { status: 0, message: 'Live capture needs libpcap and the cap package' },
  TWC0003: { status: 0, message: 'Live capture needs root or CAP_NET_RAW' },
  TWC0004: { status: 0, message: 'The capture filter does not compile' },
  TWC0005: { status: 0, message: 'Cannot capture on that interface' },
  TWC0006: { status: 0, message: 'Invalid capture option' },
  TWC0007: { status: 0, message: 'Invalid decapsulation option' },
  TWC0008: { status: 0, message: 'Invalid device network' },
  TWN0001: { status: 0, message: 'Invalid analyzer configuration' },
  TWN0002: { status: 0, message: 'Analyzer state saved under another layout' },
  TWP0001: { status: 0, message: 'Invalid response policy' },
  TWE0001: { status: 0, message: 'nft or ip failed on the gateway' },
  TWE0002: { status: 0, message: 'Invalid nftables ruleset' },
  TWE0003: { status: 0, message: 'Refusing to replace a live ruleset with the state of an empty store' },
  TWB0001: { status: 0, message: 'The control database has an unknown schema' },
  TWQ0001: { status: 0, message: 'The Kafka client is not installed' },
  TWQ0002: { status: 0, message: 'The Kafka cluster refuses a topic as configured' },
  TWB0002: { status: 0, message: 'The control database does not exist' },
  TWU0002: { status: 0, message: 'Cannot listen on that address and port' },
  TWU0003: { status: 0, message: 'Invalid configuration file' },
  TWU0004: { status: 0, message: 'Cannot open or write an output, or read an input' },
  TWP0002: { status: 0, message: 'A notification could not be delivered' },
  TWM0001: { status: 0, message: 'Cannot wrap the frame in a mirror tunnel' },
  TWT0001: { status: 0, message: 'Network namespaces are not available' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
/** Codes the control API answers with (they carry an HTTP status). */
export type ApiErrorCode = { [C in ErrorCode]: (typeof ERROR_CODES)[C]['status'] extends 0 ? never : C }[ErrorCode];
