/* Network facts for the host inventory: interfaces with their addresses (getifaddrs), and
 * listening sockets from /proc/net/{tcp,tcp6,udp,udp6} attributed to processes by socket inode
 * through /proc/<pid>/fd. */
#ifndef MAMORI_INVENTORY_NET_H
#define MAMORI_INVENTORY_NET_H

#include <stddef.h>

#include <jansson.h>

/* Appends one {"name","mtu","up","addresses"[,"mac"]} per interface to ifaces, each address
 * without prefix to ips and each non-zero MAC (ECS style, 00-11-22-AA-BB-CC) once to macs.
 * getifaddrs has no root prefix: this always describes the live host. */
void inventory_net_interfaces(json_t *ifaces, json_t *ips, json_t *macs);

/* Appends {"transport","ip","port"[,"pid","process"]} to out for each TCP listener and bound,
 * unconnected UDP socket under root ("" for the live system), sorted and without SO_REUSEPORT
 * duplicates, at most INVENTORY_MAX_LISTENING. Unreadable files are skipped. 0, or -ENOMEM with
 * out partly filled. */
int inventory_net_listening(const char *root, json_t *out);

/* Every TCP socket (any state) and every bound UDP socket under root, with the owning process
 * where one is found: {"transport","state","local":{"ip","port"},"remote":{"ip","port"}
 * [,"pid","process"]}, at most max (*dropped is nonzero when more were left out). 0 or
 * -ENOMEM. */
int inventory_net_sockets(const char *root, size_t max, json_t *out, size_t *dropped);

#endif
