/** Wording the command line and the server's commands share, with no dependency of its own. */

/** Where a command's flags are listed, said after a refusal of them (`Unknown option '--prot'`). */
export const flagsHint = (command: string) => ` (switchboard ${command} --help lists them)`;
