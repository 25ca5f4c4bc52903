// The Node a command runs on against the one package.json's engines asks for. Node 20 still runs
// tapwatch's code (and is what some machines put first on PATH), but nothing is tested on it: the
// operator is told once, on standard error, and the command goes on.

/** A line for standard error when `current` (e.g. '20.20.2') is older than `engines` ('>=22.12'); null otherwise. */
export function nodeVersionWarning(current: string, engines: string | undefined): string | null {
  const wanted = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(engines?.trim() ?? '');
  if (!wanted) return null;
  const have = current.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const need = wanted.slice(1).map((x) => Number.parseInt(x ?? '0', 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > need[i]) return null;
    if ((have[i] ?? 0) < need[i]) {
      return `tapwatch: running on Node ${current}, older than the Node ${engines!.trim().slice(2).trim()} this release is tested on `
        + '(package.json engines); use Node 24 LTS, as the README\'s set-up does\n';
    }
  }
  return null;
}
