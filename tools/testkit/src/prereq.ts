import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** Debian packages that provide each prerequisite, for the failure message. */
const INSTALL_HINTS: Record<string, string> = {
  'redis-server': 'apt-get update && apt-get install -y redis-server',
  'redis-cli': 'apt-get update && apt-get install -y redis-tools',
  chromium: 'apt-get update && apt-get install -y chromium',
  python3: 'apt-get update && apt-get install -y python3',
};

/** Thrown when a test prerequisite is missing; the message says how to install it. */
export class MissingPrerequisiteError extends Error {
  constructor(what: string, hint: string) {
    super(`test prerequisite missing: ${what}. Install it with: ${hint}`);
    this.name = 'MissingPrerequisiteError';
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds an executable (an absolute path or a name on PATH) or throws
 * {@link MissingPrerequisiteError} naming the package to install. Never skips.
 */
export function requireBinary(nameOrPath: string, hint = INSTALL_HINTS[nameOrPath] ?? `install ${nameOrPath}`): string {
  if (nameOrPath.includes('/')) {
    if (isExecutable(nameOrPath)) return nameOrPath;
    throw new MissingPrerequisiteError(nameOrPath, hint);
  }
  const result = spawnSync('sh', ['-c', `command -v ${nameOrPath}`], { encoding: 'utf8' });
  const found = result.stdout.trim();
  if (result.status === 0 && found) return found;
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    if (isExecutable(`${dir}/${nameOrPath}`)) return `${dir}/${nameOrPath}`;
  }
  throw new MissingPrerequisiteError(nameOrPath, hint);
}

/** The Debian Python that has python3-redis, python3-jsonschema, python3-celery. */
export const DEBIAN_PYTHON = process.env.TASKPULSE_PYTHON ?? '/usr/bin/python3';

/**
 * Checks that Debian's python3 can import the given modules, or throws naming the apt packages.
 * @param modules - Python module names, e.g. `['redis']`
 */
export function requirePythonModules(modules: string[]): string {
  const python = requireBinary(DEBIAN_PYTHON, 'apt-get update && apt-get install -y python3');
  for (const mod of modules) {
    try {
      execFileSync(python, ['-c', `import ${mod}`], { stdio: 'pipe' });
    } catch {
      throw new MissingPrerequisiteError(
        `Python module "${mod}" for ${python}`,
        `apt-get update && apt-get install -y python3-${mod}`,
      );
    }
  }
  return python;
}
