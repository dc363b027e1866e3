// For a target server's script: how many requests each path has had, the one being answered included (1 for a
// path's first), so a script can answer a task's first request differently from its later ones.

export function pathCounts(): (path: string) => number {
  const seen = new Map<string, number>();
  return (path) => {
    const n = (seen.get(path) ?? 0) + 1;
    seen.set(path, n);
    return n;
  };
}
