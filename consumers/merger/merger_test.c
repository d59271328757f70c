#include "kafka.h"
#include "merger.h"
#include "testing.h"

#include <errno.h>

#include <stdlib.h>

static size_t pack_event(uint8_t **out, const char *policy, const char *path, const char *perms)
{
	Armorsmith__V1__BehaviorRecord rec = ARMORSMITH__V1__BEHAVIOR_RECORD__INIT;
	Armorsmith__V1__BehaviorEvent ev = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
	Armorsmith__V1__FileBehavior f = ARMORSMITH__V1__FILE_BEHAVIOR__INIT;
	size_t len;

	f.path = (char *)path;
	f.permissions = (char *)perms;
	ev.policy_key = (char *)policy;
	ev.event_id = "n/1/1";
	ev.node = "n";
	ev.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE;
	ev.file = &f;
	rec.record_case = ARMORSMITH__V1__BEHAVIOR_RECORD__RECORD_EVENT;
	rec.event = &ev;
	len = armorsmith__v1__behavior_record__get_packed_size(&rec);
	*out = malloc(len);
	armorsmith__v1__behavior_record__pack(&rec, *out);
	return len;
}

static void test_valid_event(void)
{
	struct merger_decoded d;
	char reason[256] = "";
	uint8_t *buf;
	size_t len = pack_event(&buf, "ns/p", "/etc/passwd", "r");

	CHECK(merger_decode(TOPIC_BEHAVIOR, "ns/p", 4, buf, len, &d, reason, sizeof(reason)) == 0);
	CHECK(d.kind == MERGER_EVENT);
	CHECK_STR(d.record->event->file->path, "/etc/passwd");
	merger_decoded_free(&d);
	free(buf);
}

static void test_invalid_messages_have_reasons(void)
{
	struct merger_decoded d;
	char reason[256];
	uint8_t *buf;
	size_t len;
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};

	CHECK(merger_decode(TOPIC_BEHAVIOR, "k", 1, garbage, sizeof(garbage), &d, reason,
			    sizeof(reason)) == -EINVAL);
	CHECK(strstr(reason, "undecodable") != NULL);

	len = pack_event(&buf, "ns/p", "/etc/passwd", "r");
	/* Truncated in the middle of a field. */
	CHECK(merger_decode(TOPIC_BEHAVIOR, "ns/p", 4, buf, len - 3, &d, reason, sizeof(reason)) ==
	      -EINVAL);
	/* Keyed by another policy: it would land in the wrong partition order. */
	CHECK(merger_decode(TOPIC_BEHAVIOR, "ns/q", 4, buf, len, &d, reason, sizeof(reason)) ==
	      -EINVAL);
	CHECK(strstr(reason, "another policy") != NULL);
	free(buf);

	len = pack_event(&buf, "ns/p", "relative/path", "r");
	CHECK(merger_decode(TOPIC_BEHAVIOR, "ns/p", 4, buf, len, &d, reason, sizeof(reason)) ==
	      -EINVAL);
	CHECK(strstr(reason, "non-absolute") != NULL);
	free(buf);

	len = pack_event(&buf, "ns/p", "/etc/x", "rw,\n/** rwx");
	CHECK(merger_decode(TOPIC_BEHAVIOR, "ns/p", 4, buf, len, &d, reason, sizeof(reason)) ==
	      -EINVAL);
	CHECK(strstr(reason, "unknown permissions") != NULL);
	free(buf);

	/* A Latin-1 file name: PostgreSQL would reject the whole batch. */
	len = pack_event(&buf, "ns/p", "/tmp/caf\xe9", "r");
	CHECK(merger_decode(TOPIC_BEHAVIOR, "ns/p", 4, buf, len, &d, reason, sizeof(reason)) ==
	      -EINVAL);
	CHECK(strstr(reason, "UTF-8") != NULL);
	free(buf);
	len = pack_event(&buf, "ns/p", "/tmp/caf\xc3\xa9 \xf0\x9f\x94\x92", "r");
	CHECK(merger_decode(TOPIC_BEHAVIOR, "ns/p", 4, buf, len, &d, reason, sizeof(reason)) == 0);
	merger_decoded_free(&d);
	free(buf);
	/* What PostgreSQL's UTF-8 check refuses although the bytes look like
	 * UTF-8: a surrogate, an overlong slash, a code point above U+10FFFF,
	 * a sequence cut short; each after ASCII long enough for the
	 * eight-byte path. */
	{
		static const char *const bad[] = {
		    "/tmp/abcdefgh\xed\xa0\x80",     "/tmp/abcdefgh\xe0\x80\xaf",
		    "/tmp/abcdefgh\xf4\x90\x80\x80", "/tmp/abcdefgh\xf5\x80\x80\x80",
		    "/tmp/abcdefgh\xe2\x82",	     "/tmp/abcdefgh\xc0\xaf"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			len = pack_event(&buf, "ns/p", bad[i], "r");
			CHECK(merger_decode(TOPIC_BEHAVIOR, "ns/p", 4, buf, len, &d, reason,
					    sizeof(reason)) == -EINVAL);
			CHECK(strstr(reason, "UTF-8") != NULL);
			free(buf);
		}
	}
	len = pack_event(&buf, "ns/p", "/tmp/abcdefgh\xf4\x8f\xbf\xbf\xed\x9f\xbf", "r");
	CHECK(merger_decode(TOPIC_BEHAVIOR, "ns/p", 4, buf, len, &d, reason, sizeof(reason)) == 0);
	merger_decoded_free(&d);
	free(buf);

	CHECK(merger_decode(TOPIC_BEHAVIOR, "k", 1, NULL, 0, &d, reason, sizeof(reason)) ==
	      -EINVAL);
	CHECK(merger_decode("other.topic", "k", 1, garbage, 1, &d, reason, sizeof(reason)) ==
	      -EINVAL);
	/* An empty BehaviorRecord decodes but carries nothing. */
	CHECK(merger_decode(TOPIC_BEHAVIOR, "k", 1, "", 0, &d, reason, sizeof(reason)) == -EINVAL);
}

static void test_control_and_tombstone(void)
{
	Armorsmith__V1__ModelingControl c = ARMORSMITH__V1__MODELING_CONTROL__INIT;
	struct merger_decoded d;
	char reason[256];
	uint8_t buf[256];
	size_t len;

	c.policy_key = "default/demo";
	c.profile_name = "demo";
	c.generation = 7;
	len = armorsmith__v1__modeling_control__pack(&c, buf);
	CHECK(merger_decode(TOPIC_CONTROL, "default/demo", 12, buf, len, &d, reason,
			    sizeof(reason)) == 0);
	CHECK(d.kind == MERGER_CONTROL && d.control->generation == 7);
	merger_decoded_free(&d);
	CHECK(merger_decode(TOPIC_CONTROL, "default/demo", 12, NULL, 0, &d, reason,
			    sizeof(reason)) == 0);
	CHECK(d.kind == MERGER_TOMBSTONE);
	CHECK(merger_decode(TOPIC_CONTROL, "default/other", 13, buf, len, &d, reason,
			    sizeof(reason)) == -EINVAL);
}

int main(void)
{
	test_valid_event();
	test_invalid_messages_have_reasons();
	test_control_and_tombstone();
	return TEST_SUMMARY();
}
