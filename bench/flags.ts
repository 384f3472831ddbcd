/**
 * Walks a command line: yields each argument with a function that takes the next one as its
 * value (and says which flag lacked one). The bench's, the bundle builder's and its runner's parsers.
 */
export function* flags(argv: string[]): Generator<[string, () => string]> {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    yield [
      flag,
      () => {
        const value = argv[++i];
        if (value === undefined) throw new Error(`${flag} needs a value`);
        return value;
      },
    ];
  }
}
