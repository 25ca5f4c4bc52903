// Patterns of the identifiers the control API and the inventory share, without the schema machinery:
// the collector reads the inventory and should not load TypeBox to check a CSV's IMSIs (control-api.ts
// builds its schema types from these).

export const IMSI_PATTERN = '^[0-9]{5,15}$';
/** Group ids the API accepts in paths and bodies; an import creating a group checks the same pattern,
 *  so no group exists that the API could not name. */
export const GROUP_ID_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
