#include "policy_match.h"

#include <fnmatch.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

static bool glob(const char *pattern, const char *s)
{
	return s && fnmatch(pattern, s, 0) == 0;
}

bool policy_match_in_list(json_t *list, const char *s)
{
	json_t *v;
	size_t i;

	if (!s)
		return false;
	json_array_foreach(list, i, v) if (json_is_string(v) &&
					   !strcmp(json_string_value(v), s)) return true;
	return false;
}

int policy_match_excluded(json_t *pol, const struct policy_alert *a, int64_t now_ms)
{
	json_t *e;
	size_t i;

	if (policy_match_in_list(json_object_get(pol, "disabled_rules"), a->rule_id))
		return -2;
	json_array_foreach(json_object_get(pol, "exclusions"), i, e)
	{
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *value = json_string_value(json_object_get(e, "value"));
		json_t *exp = json_object_get(e, "expires");
		bool hit = false;

		if (!type || !value || (json_is_integer(exp) && json_integer_value(exp) <= now_ms))
			continue;
		if (!strcmp(type, "rule"))
			hit = a->rule_id && !strcmp(a->rule_id, value);
		else if (!strcmp(type, "hash"))
			hit = (a->process_sha256 && !strcasecmp(a->process_sha256, value)) ||
			      (a->file_sha256 && !strcasecmp(a->file_sha256, value));
		else if (!strcmp(type, "path"))
			hit = glob(value, a->executable) || glob(value, a->file_path);
		else if (!strcmp(type, "command_line"))
			hit = glob(value, a->command_line);
		if (hit)
			return (int)i;
	}
	return -1;
}
