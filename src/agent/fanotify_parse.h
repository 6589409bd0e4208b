/* Decoding the info records that follow a fanotify event's metadata (FID, DFID_NAME and the
 * rename pair): pure and bounded, so it can be fuzzed with arbitrary bytes. */
#ifndef MAMORI_FANOTIFY_PARSE_H
#define MAMORI_FANOTIFY_PARSE_H

#include <sys/fanotify.h>

/* One fid record, pointing into the read buffer. */
struct fan_fid {
	const void *fh; /* struct file_handle for open_by_handle_at(); NULL when absent */
	const unsigned char *handle;
	unsigned handle_bytes;
	int handle_type;
	int fsid[2];
	const char *name; /* DFID_NAME types only */
};

struct fan_info {
	struct fan_fid fid, dfid_name, old_name, new_name;
};

/* Decodes the records of one event. raw: the event's bytes (m->event_len of them, borrowed; the
 * results point into it); m: its header, copied out since events are only 4-byte aligned.
 * 0, or -EINVAL when a record is malformed. */
int fanotify_parse_info(const char *raw, const struct fanotify_event_metadata *m,
			struct fan_info *fi);

#endif
