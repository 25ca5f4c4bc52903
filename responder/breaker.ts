// The fleet-wide circuit breaker: automated response stops when it is acting on too much at once,
// because a detector gone wrong (a bad baseline, a fleet-wide firmware update) would otherwise
// throttle or block the whole fleet, one plausible-looking action at a time.

import { BREAKER_WINDOW_MS, type ActionLedger } from './ledger.js';
import type { Policy } from './policy.js';

/** Why one more action on `deviceId` at `now` would be one too many, or null when it may go ahead. */
export function breakerOpen(policy: Policy['breaker'], ledger: ActionLedger, deviceId: string, now: number): string | null {
  const recent = ledger.actionsSince(now - BREAKER_WINDOW_MS);
  if (recent >= policy.maxActionsPerMinute) return `${recent} actions in the last minute (limit ${policy.maxActionsPerMinute})`;
  const fleet = ledger.fleetSize();
  // At least one: the first action on a small known fleet is not a storm.
  const allowed = Math.max(1, Math.floor((fleet * policy.maxFleetPercent) / 100));
  const under = ledger.devicesUnderAction() + (ledger.activeOn(deviceId).length > 0 ? 0 : 1);
  if (under > allowed) return `${under} of ${fleet} known devices would be under action (limit ${policy.maxFleetPercent}%: ${allowed})`;
  return null;
}
