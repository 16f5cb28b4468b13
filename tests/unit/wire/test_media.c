/* Tests media: the one media-type matcher's semantics (case, white space, parameters). */
#include <string.h>

#include "media.h"
#include "test.h"

static int is(const char *value, const char *type)
{
    return media_type_is(value, strlen(value), type);
}

int main(void)
{
    CHECK(is("application/json", "application/json"));
    CHECK(is("Application/JSON", "application/json"));
    CHECK(is("application/json; charset=utf-8", "application/json"));
    CHECK(is("application/json ;charset=utf-8", "application/json"));
    CHECK(is(" application/json\t", "application/json"));
    CHECK(is("application/grpc+proto", "application/grpc+proto"));
    CHECK(is("application/grpc;foo=bar", "application/grpc"));
    CHECK(!is("application/grpc+proto", "application/grpc"));
    CHECK(!is("application/grpc", "application/grpc+proto"));
    CHECK(!is("application/jsonx", "application/json"));
    CHECK(!is("application/jso", "application/json"));
    CHECK(!is("application/ json", "application/json"));
    CHECK(!is("", "application/json"));
    CHECK(!is(";application/json", "application/json"));
    CHECK(media_type_is(NULL, 0, "application/json") == 0);
    /* only len bytes are read */
    CHECK(media_type_is("application/jsonXXXX", 16, "application/json"));
    return test_exit_code();
}
