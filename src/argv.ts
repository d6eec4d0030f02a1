/** Dex's image runs `dex serve …`, and manifests pass the `dex` as the first argument: it names this program. */
export const withoutDexWord = (argv: readonly string[]): readonly string[] =>
  argv[0] === 'dex' || argv[0]?.endsWith('/dex') === true ? argv.slice(1) : argv;
