/* armorsmith: the command-line front end. */
#include "cli.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

int cli_advise(int argc, char **argv); /* cli/advise.c */

/* cli/parse_audit.c */
int cli_parse_audit(int argc, char **argv);

static void usage(FILE *out)
{
	fprintf(out,
		"usage: armorsmith COMMAND [OPTIONS]\n"
		"\n"
		"Forges deny-by-default AppArmor and seccomp profiles from what a workload does.\n"
		"\n"
		"Commands:\n"
		"  model     model a local command end to end and write its profiles\n"
		"  advise    built-in rules and a securityContext that fit a model\n"
		"  diff      what a run added or dropped compared with an earlier run\n"
		"  replay    rebuild the behavior store from Kafka and check the profiles\n"
		"  parse-audit  AppArmor audit records of a log as JSON Lines\n"
		"\n"
		"Run 'armorsmith COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
	log_init("armorsmith");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "model") == 0)
		return cli_model(argc - 1, argv + 1);
	if (strcmp(argv[1], "diff") == 0)
		return cli_diff(argc - 1, argv + 1);
	if (strcmp(argv[1], "replay") == 0)
		return cli_replay(argc - 1, argv + 1);
	if (strcmp(argv[1], "advise") == 0)
		return cli_advise(argc - 1, argv + 1);
	if (strcmp(argv[1], "parse-audit") == 0)
		return cli_parse_audit(argc - 1, argv + 1);
	log_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return 2;
}
