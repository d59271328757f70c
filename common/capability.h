/* Linux capability names (capability(7), kernel 6.x) as AppArmor rules spell
 * them, indexed by capability number. */
#ifndef ARMORSMITH_CAPABILITY_H
#define ARMORSMITH_CAPABILITY_H

#include <stdbool.h>
#include <stddef.h>

/* The name of capability number nr, or NULL when the kernel has none. */
const char *capability_name(unsigned nr);
/* Whether name is a capability AppArmor knows. */
bool capability_known(const char *name);

#endif
