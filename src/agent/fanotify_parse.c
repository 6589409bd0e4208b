#include "fanotify_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>

#include "banned.h"

static int parse_fid(const char *rec, size_t len, bool named, struct fan_fid *out)
{
	const size_t off = sizeof(struct fanotify_event_info_fid);
	struct fanotify_event_info_fid info;
	struct file_handle fh;
	size_t name_off;

	if (len < off + sizeof(fh))
		return -EINVAL;
	memcpy(&info, rec, sizeof(info));
	memcpy(&fh, rec + off, sizeof(fh));
	name_off = off + sizeof(fh) + fh.handle_bytes;
	if (fh.handle_bytes == 0 || fh.handle_bytes > MAX_HANDLE_SZ || name_off > len)
		return -EINVAL;
	memcpy(out->fsid, &info.fsid, sizeof(out->fsid));
	out->fh = rec + off;
	out->handle = (const unsigned char *)rec + off + sizeof(fh);
	out->handle_bytes = fh.handle_bytes;
	out->handle_type = fh.handle_type;
	out->name = named ? rec + name_off : NULL;
	if (named && (name_off >= len || !memchr(out->name, '\0', len - name_off) ||
		      !out->name[0] || strchr(out->name, '/')))
		return -EINVAL;
	return 0;
}

int fanotify_parse_info(const char *raw, const struct fanotify_event_metadata *m,
			struct fan_info *fi)
{
	const char *p = raw + m->metadata_len, *end = raw + m->event_len;
	struct fanotify_event_info_header h;
	struct fan_fid *dst;

	memset(fi, 0, sizeof(*fi));
	if (m->metadata_len < sizeof(*m) || m->metadata_len > m->event_len)
		return -EINVAL;
	for (; p < end; p += h.len) {
		if ((size_t)(end - p) < sizeof(h))
			return -EINVAL;
		memcpy(&h, p, sizeof(h));
		if (h.len < sizeof(h) || h.len > (size_t)(end - p))
			return -EINVAL;
		dst = h.info_type == FAN_EVENT_INFO_TYPE_FID		 ? &fi->fid
		      : h.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME	 ? &fi->dfid_name
		      : h.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ? &fi->old_name
		      : h.info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME ? &fi->new_name
									 : NULL;
		if (dst && parse_fid(p, h.len, dst != &fi->fid, dst))
			return -EINVAL;
	}
	return 0;
}

