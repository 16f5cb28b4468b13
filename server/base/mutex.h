/* mutex: the one way the server makes a mutex for short sections (a table probe, a bucket's
 * arithmetic): adaptive, so that a waiter spins briefly before it sleeps in the kernel. */
#ifndef HOOKGATE_MUTEX_H
#define HOOKGATE_MUTEX_H

#include <pthread.h>

/* pthread_mutex_init's result: 0, or an errno value. */
int mutex_init_adaptive(pthread_mutex_t *m);

#endif
