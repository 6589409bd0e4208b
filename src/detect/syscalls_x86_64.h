/* x86_64 system call names by number, for audit records that give only arch=c000003e and
 * syscall=N (auditd's raw format) while Sigma rules name the call (SYSCALL: 'ptrace'). */
#ifndef MAMORI_SYSCALLS_X86_64_H
#define MAMORI_SYSCALLS_X86_64_H

#include <stdint.h>

/* Highest number in the generated table. */
#define SYSCALLS_X86_64_MAX 450

/* The name of syscall nr ("execve" for 59), borrowed static text; NULL when unknown. */
const char *syscalls_x86_64_name(uint64_t nr);

#endif
