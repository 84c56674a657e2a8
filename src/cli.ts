/**
 * The `qa-ft` command line: wires one sub-command per file in src/commands and maps errors to exit codes.
 * Nothing else in the project prints or exits.
 */
import { Command, CommanderError } from 'commander';
import { pathToFileURL } from 'node:url';
import { formatUserError, isQaFtError } from './errors.js';
import { strayFileSystemError } from './util/fs-errors.js';
// Sub-commands (one file each; each exports a function returning a commander Command).
// COMMANDS-BEGIN
import { prepareCommand } from './commands/prepare.js';
import { trainCommand } from './commands/train.js';
import { askCommand } from './commands/ask.js';
import { evaluateCommand } from './commands/evaluate.js';
import { exportCommand } from './commands/export.js';
import { serveCommand } from './commands/serve.js';
// COMMANDS-END

function buildProgram(): Command {
  const program = new Command('qa-ft')
    .description(
      'Fine-tune transformer encoders (DistilBERT, BERT, RoBERTa, ELECTRA, ALBERT, DeBERTa) for extractive question answering on TensorFlow.js',
    )
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  // REGISTER-BEGIN
  program.addCommand(prepareCommand());
  program.addCommand(trainCommand());
  program.addCommand(askCommand());
  program.addCommand(evaluateCommand());
  program.addCommand(exportCommand());
  program.addCommand(serveCommand());
  // REGISTER-END
  for (const command of program.commands) command.copyInheritedSettings(program);
  return program;
}

/**
 * Runs the CLI and returns the process exit code: 0 ok, 1 user or I/O error, 2 usage error, 70 internal error, 130
 * interrupted.
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are "errors" only to commander
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help'
        ? 0
        : 2;
    }
    // every typed error exits 1, file-system ones (DISK) included; a full disk or a read-only mount that a
    // writer did not word (no path known) is still the environment's doing, not a bug
    if (isQaFtError(e) && e.code === 'INTERRUPTED') {
      process.stderr.write(`qa-ft: ${formatUserError(e)}\n`);
      return 130;
    }
    const userError = isQaFtError(e) ? e : strayFileSystemError(e);
    if (userError) {
      process.stderr.write(`qa-ft: error: ${formatUserError(userError)}\n`);
      return 1;
    }
    process.stderr.write(
      `qa-ft: internal error (please report): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return 70;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv);
}
