#include "test.h"
int main(void) { return 1; /* TODO */ }
