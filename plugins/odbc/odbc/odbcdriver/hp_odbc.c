#include <stddef.h>
#include "hp_odbc.h"

SQLRETURN hp_env_int(SQLHENV h, SQLINTEGER attr, SQLULEN v) { return SQLSetEnvAttr(h, attr, (SQLPOINTER)v, 0); }
SQLRETURN hp_conn_int(SQLHDBC h, SQLINTEGER attr, SQLULEN v) { return SQLSetConnectAttr(h, attr, (SQLPOINTER)v, 0); }
SQLRETURN hp_stmt_int(SQLHSTMT h, SQLINTEGER attr, SQLULEN v) { return SQLSetStmtAttr(h, attr, (SQLPOINTER)v, 0); }
SQLRETURN hp_stmt_ptr(SQLHSTMT h, SQLINTEGER attr, void *p) { return SQLSetStmtAttr(h, attr, p, 0); }

SQLULEN hp_stmt_get_int(SQLHSTMT h, SQLINTEGER attr) {
	SQLULEN v = 0;
	SQLGetStmtAttr(h, attr, &v, sizeof(v), NULL);
	return v;
}
