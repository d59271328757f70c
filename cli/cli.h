#ifndef ARMORSMITH_CLI_H
#define ARMORSMITH_CLI_H

#include <stdio.h>

int cli_model(int argc, char **argv);
void cli_model_usage(FILE *out);
int cli_diff(int argc, char **argv);
void cli_diff_usage(FILE *out);
int cli_replay(int argc, char **argv);
void cli_replay_usage(FILE *out);

#endif
