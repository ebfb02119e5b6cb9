package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionLine is the module's version and the commit it was built from,
// as the Go toolchain recorded them in the binary.
func versionLine() string {
	version, commit, modified := "(devel)", "unknown", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if modified {
		commit += "+modified"
	}
	return fmt.Sprintf("composer %s (commit %s, %s %s/%s)", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func version(stdout io.Writer) int {
	fmt.Fprintln(stdout, versionLine())
	return 0
}

// commands are the subcommands and their flags, for the completion
// scripts.
var commands = []struct {
	name  string
	flags string
}{
	{"run", "-f"},
	{"validate", "-f --format"},
	{"plan", "-f --admin --format"},
	{"ps", "-f --admin"},
	{"graph", "-f --format"},
	{"registry", "-f --admin --service --address --port --id --ttl --tag"},
	{"alerts", "-f --selector"},
	{"schema", ""},
	{"events", "-f --admin --subject --from-beginning --route --from --service"},
	{"version", ""},
	{"completion", ""},
}

// completion prints a completion script for a shell.
func completion(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: composer completion bash|zsh|fish")
		return 2
	}
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	switch args[0] {
	case "bash", "zsh":
		fmt.Fprintf(stdout, "# composer completion for %s: source <(composer completion %s)\n", args[0], args[0])
		if args[0] == "zsh" {
			fmt.Fprintln(stdout, "autoload -U +X bashcompinit && bashcompinit")
		}
		fmt.Fprintln(stdout, "_composer() {\n    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}")
		fmt.Fprintln(stdout, `    case "$prev" in`)
		fmt.Fprintln(stdout, `    -f) COMPREPLY=($(compgen -f -X '!*.tsk' -- "$cur") $(compgen -d -- "$cur")); return ;;`)
		fmt.Fprintln(stdout, `    --format) COMPREPLY=($(compgen -W "text json mermaid dot" -- "$cur")); return ;;`)
		fmt.Fprintln(stdout, `    completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return ;;`)
		fmt.Fprintln(stdout, `    events) COMPREPLY=($(compgen -W "publish tail replay rebuild" -- "$cur")); return ;;`)
		fmt.Fprintln(stdout, "    esac")
		fmt.Fprintln(stdout, `    if [ "$COMP_CWORD" -eq 1 ]; then`)
		fmt.Fprintf(stdout, "        COMPREPLY=($(compgen -W %q -- \"$cur\")); return\n    fi\n", join(names))
		fmt.Fprintln(stdout, `    case "${COMP_WORDS[1]}" in`)
		for _, c := range commands {
			if c.flags != "" {
				fmt.Fprintf(stdout, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", c.name, c.flags)
			}
		}
		fmt.Fprintln(stdout, "    esac\n}\ncomplete -F _composer composer")
	case "fish":
		fmt.Fprintln(stdout, "# composer completion for fish: composer completion fish | source")
		fmt.Fprintf(stdout, "complete -c composer -f -n __fish_use_subcommand -a %q\n", join(names))
		for _, c := range commands {
			for _, f := range splitFlags(c.flags) {
				fmt.Fprintf(stdout, "complete -c composer -n '__fish_seen_subcommand_from %s' -l %s\n", c.name, f)
			}
		}
		fmt.Fprintln(stdout, "complete -c composer -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'")
		fmt.Fprintln(stdout, "complete -c composer -n '__fish_seen_subcommand_from events' -a 'publish tail replay rebuild'")
	default:
		fmt.Fprintf(stderr, "composer completion: no completion for %q (bash, zsh or fish)\n", args[0])
		return 2
	}
	return 0
}

func join(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// splitFlags turns "-f --admin" into fish's long names "f admin".
func splitFlags(s string) []string {
	var out []string
	cur := ""
	for _, r := range s + " " {
		switch r {
		case ' ':
			if cur != "" {
				out = append(out, cur)
			}
			cur = ""
		case '-':
			if cur != "" {
				cur += "-"
			}
		default:
			cur += string(r)
		}
	}
	return out
}
