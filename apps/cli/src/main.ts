import { GOLDEN_USAGE, UsageError, goldenCommand } from './commands/golden.command';
import { MODELS_BUILD_USAGE, modelsBuildCommand } from './commands/models-build.command';
import { MODELS_FIT_PREVIEW_USAGE, modelsFitPreviewCommand } from './commands/models-fit-preview.command';
import { EDIT_USAGE, editCommand } from './commands/edit.command';
import { START_USAGE, startCommand } from './commands/start.command';

const USAGE = `usage:
  ${GOLDEN_USAGE}
  ${MODELS_BUILD_USAGE}
  ${MODELS_FIT_PREVIEW_USAGE}
  ${EDIT_USAGE}
  ${START_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  switch (command) {
    case 'golden':
      return goldenCommand(argv.slice(1));
    case 'edit':
      return editCommand(argv.slice(1));
    case 'start':
      return startCommand(argv.slice(1));
    case 'models':
      if (sub === 'build') return modelsBuildCommand(rest);
      if (sub === 'fit-preview') return modelsFitPreviewCommand(rest);
      throw new UsageError(`${MODELS_BUILD_USAGE}\n${MODELS_FIT_PREVIEW_USAGE}`);
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) console.error(err.message);
    else {
      const code = (err as { code?: unknown }).code;
      console.error(`error${typeof code === 'string' ? ` [${code}]` : ''}: ${(err as Error).message}`);
    }
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
