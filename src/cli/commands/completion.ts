/**
 * `mergelens completion [bash|zsh]`: a shell completion script. Sub-command names come from the
 * command list; options are read from `mergelens CMD --help` when asked for, so the script never
 * goes stale. Install: `source <(mergelens completion bash)` (zsh: `mergelens completion zsh`).
 */
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import { commands } from './index.js';

export function completionScript(shell: 'bash' | 'zsh'): string {
  const names = [...commands.map((c) => c.name), 'help'].sort().join(' ');
  const bash = `# mergelens completion (bash) — source <(mergelens completion bash)
_mergelens() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${names}" -- "$cur") )
    return
  fi
  if [[ "$cur" == -* ]]; then
    local opts
    opts=$("\${COMP_WORDS[0]}" "\${COMP_WORDS[1]}" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return
  fi
  COMPREPLY=( $(compgen -f -- "$cur") )
}
complete -o filenames -F _mergelens mergelens
`;
  return shell === 'bash' ? bash : `# mergelens completion (zsh) — source <(mergelens completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: source <(mergelens completion bash)')
    .argument('[shell]', 'bash or zsh', 'bash')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw new MergelensError('USAGE', `no completion for "${shell}"`, { hint: 'mergelens completion bash, or zsh' });
      process.stdout.write(completionScript(shell));
    });
}
