// Integer attribute values travel in ODBC's pointer argument; these keep
// the casts on the C side.
#include <sql.h>
#include <sqlext.h>

SQLRETURN hp_env_int(SQLHENV h, SQLINTEGER attr, SQLULEN v);
SQLRETURN hp_conn_int(SQLHDBC h, SQLINTEGER attr, SQLULEN v);
SQLRETURN hp_stmt_int(SQLHSTMT h, SQLINTEGER attr, SQLULEN v);
SQLRETURN hp_stmt_ptr(SQLHSTMT h, SQLINTEGER attr, void *p);
SQLULEN hp_stmt_get_int(SQLHSTMT h, SQLINTEGER attr);
