/* The Policy Advisor's output: the `.spec.policy` template in EnhanceProtect
 * mode, printed as vArmor's policy-advisor.py prints it (tips, then the
 * template as JSON and as YAML), and the -d explanations. */
#ifndef ARMORSMITH_ADVISOR_TEMPLATE_H
#define ARMORSMITH_ADVISOR_TEMPLATE_H

#include <stdio.h>

#include "evaluate.h"

/* The template as a JSON object in vArmor's key order (a new reference),
 * or NULL when out of memory. */
json_t *advisor_template_json(const struct advisor_result *res);

/* Tips, "Template (json)" and "Template (yaml)" sections, byte for byte the
 * layout of vArmor's script. 0, -ENOMEM or -EIO. */
int advisor_print_template(FILE *out, const struct advisor_result *res);

/* One line per input and per rule decision: what was kept or dropped and the
 * input that decided. 0 or -EIO. */
int advisor_print_explanations(FILE *out, const struct advisor_context *ctx,
			       const struct advisor_result *res);

#endif
