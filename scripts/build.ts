import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import { loadCloudbaseRc, nodeTargetOf, ROOT } from './lib/cloudbaserc';

export const DIST_DIR = path.join(ROOT, 'dist');

export interface BuiltFunction {
  name: string;
  outfile: string;
  bytes: number;
  /** Input bytes by npm package, and by file for our own code, to see what each bundle carries. */
  packages: Record<string, number>;
}

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (match) return match[1]!;
  // Our own files are listed one by one, so a test can see exactly which core modules a bundle carries.
  return input;
}

function summarize(metafile: Metafile, outfile: string): { bytes: number; packages: Record<string, number> } {
  const output = Object.entries(metafile.outputs).find(([file]) => path.resolve(ROOT, file) === outfile)?.[1];
  const packages: Record<string, number> = {};
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const name = packageOf(input);
    packages[name] = (packages[name] ?? 0) + bytesInOutput;
  }
  return { bytes: output?.bytes ?? 0, packages };
}

/**
 * `import text from './client.ts?browser'`: the file bundled for the browser (an IIFE, its npm
 * imports included), handed over as text. Pages that serve their own script (the console's charts)
 * carry it inside their function's bundle; nothing is fetched from a CDN at run time.
 */
const browserScripts: Plugin = {
  name: 'browser-scripts',
  setup(plugin) {
    plugin.onResolve({ filter: /\?browser$/ }, (args) => ({ path: path.resolve(args.resolveDir, args.path.replace(/\?browser$/, '')), namespace: 'browser-script' }));
    plugin.onLoad({ filter: /.*/, namespace: 'browser-script' }, async (args) => {
      const result = await build({
        entryPoints: [args.path],
        bundle: true,
        platform: 'browser',
        format: 'iife',
        target: ['chrome100', 'safari15'],
        minify: true,
        legalComments: 'inline',
        write: false,
        logLevel: 'warning',
      });
      return { contents: result.outputFiles[0]!.text, loader: 'text' };
    });
  },
};

/**
 * Data files a function reads at run time, shipped beside its bundle (tcb fn deploy uploads the
 * folder): claimPage's IP-region data, from the `ip2region` package (shared/claimpage/region.ts).
 */
const DATA_FILES: Readonly<Record<string, ReadonlyArray<{ from: () => string; to: string }>>> = {
  claimPage: [
    { from: () => path.join(path.dirname(require.resolve('ip2region/package.json')), 'data', 'ip2region.db'), to: 'ip2region.db' },
    { from: () => path.join(path.dirname(require.resolve('ip2region/package.json')), 'data', 'ipv6wry.db'), to: 'ipv6wry.db' },
  ],
};

/**
 * Bundles every function in cloudbaserc.json into dist/<name>/index.js: one self-contained
 * CommonJS file for the runtime the file names, deployable with installDependency: false.
 */
export async function buildFunctions(options: { names?: string[]; quiet?: boolean } = {}): Promise<BuiltFunction[]> {
  const rc = loadCloudbaseRc({});
  const entries = rc.functions.filter((entry) => !options.names || options.names.includes(entry.name));
  // Folders of functions no longer in cloudbaserc.json go; the others are replaced file by file
  // (write, then rename), so a host or test reading a bundle never sees a half-written one.
  if (!options.names && existsSync(DIST_DIR)) {
    const wanted = new Set(entries.map((entry) => entry.name));
    for (const folder of readdirSync(DIST_DIR, { withFileTypes: true })) {
      if (folder.isDirectory() && !wanted.has(folder.name)) rmSync(path.join(DIST_DIR, folder.name), { recursive: true, force: true });
    }
  }
  const built = await Promise.all(
    entries.map(async (entry) => {
      const source = path.join(ROOT, 'cloudfunctions', entry.name, 'index.ts');
      if (!existsSync(source)) throw new Error(`cloudbaserc.json lists ${entry.name} but ${path.relative(ROOT, source)} does not exist`);
      const outfile = path.join(DIST_DIR, entry.name, 'index.js');
      mkdirSync(path.dirname(outfile), { recursive: true });
      const result = await build({
        entryPoints: [source],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: nodeTargetOf(entry.runtime),
        minify: true,
        keepNames: true,
        legalComments: 'none',
        metafile: true,
        logLevel: 'warning',
        write: false,
        // Stylesheets are imported as their text (the console serves weui's and its own).
        loader: { '.css': 'text' },
        plugins: [browserScripts],
      });
      for (const file of result.outputFiles) {
        const temporary = `${file.path}.${process.pid}.tmp`;
        writeFileSync(temporary, file.contents);
        renameSync(temporary, file.path);
      }
      for (const data of DATA_FILES[entry.name] ?? []) {
        const target = path.join(path.dirname(outfile), data.to);
        const temporary = `${target}.${process.pid}.tmp`;
        copyFileSync(data.from(), temporary);
        renameSync(temporary, target);
      }
      return { name: entry.name, outfile, ...summarize(result.metafile, outfile) };
    }),
  );
  const reportFile = path.join(DIST_DIR, 'build-report.json');
  writeFileSync(`${reportFile}.${process.pid}.tmp`, JSON.stringify(built, null, 2));
  renameSync(`${reportFile}.${process.pid}.tmp`, reportFile);
  if (!options.quiet) {
    for (const fn of built) console.log(`built ${fn.name.padEnd(14)} ${(fn.bytes / 1024).toFixed(0).padStart(6)} KiB  ${path.relative(ROOT, fn.outfile)}`);
  }
  return built;
}

if (require.main === module) {
  buildFunctions().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
