"""The core module's directive table: names, contexts, argument syntax, usage text."""
from __future__ import annotations

from fastcore.config.directives_core import (
    CORE,
    _duration,
    _enable_word,
    _int_vh,
    _need,
    _words,
    accept_filter,
    access_file_name,
    add_default_charset,
    allow_encoded_slashes,
    allow_override,
    allow_override_list,
    default_type,
    define,
    document_root,
    error_document,
    error_log,
    extended_status,
    force_type,
    group,
    hostname_lookups,
    include,
    include_optional,
    keep_alive,
    keep_alive_timeout,
    limit_internal_recursion,
    limit_request_body,
    limit_request_fields,
    limit_request_fieldsize,
    limit_request_line,
    load_module,
    mutex,
    options,
    protocols,
    runtime_dir,
    server_admin,
    server_alias,
    server_name,
    server_root,
    server_signature,
    server_tokens,
    set_handler,
    set_output_filter,
    trace_enable,
    undefine,
    use_canonical_name,
    user,
)
from fastcore.config.directives_scoped import file_etag, log_level
from fastcore.config.engine import (
    ACCESS,
    GLOBAL_ONLY,
    NOT_IN_DIR_LOC_FILE,
    OR_FILEINFO,
    OR_OPTIONS,
    RSRC,
    Directive,
)


def _d(name: str, req, syntax: str, handler, usage: str = "", check: int = 0,
       module: str = CORE) -> Directive:
    return Directive(name, module, frozenset(req), syntax, handler, usage, check)


def core_directives() -> list[Directive]:
    """The core module's directives (those fastcore acts upon or accepts)."""
    S = {RSRC}
    ALLC = {RSRC, ACCESS, OR_OPTIONS, OR_FILEINFO, "AuthConfig", "Limit", "Indexes"}
    return [
        _d("ServerRoot", S, "TAKE1", server_root, "Common directory of server-related files "
           "(logs, confs, etc.)", GLOBAL_ONLY),
        _d("DefaultRuntimeDir", S, "TAKE1", runtime_dir, "Common directory for run-time files "
           "(shared memory, locks, etc.)"),
        _d("DocumentRoot", S, "TAKE1", document_root, "Root directory of the document tree",
           NOT_IN_DIR_LOC_FILE),
        _d("ServerName", S, "TAKE1", server_name, "The hostname and port of the server",
           NOT_IN_DIR_LOC_FILE),
        _d("ServerAlias", S, "RAW_ARGS",
           lambda e, c, a, n: server_alias(e, c, a.split() if isinstance(a, str) else a, n),
           "A name or names alternately used to access the server", NOT_IN_DIR_LOC_FILE),
        _d("ServerAdmin", S, "TAKE1", server_admin, "The email address of the server "
           "administrator", NOT_IN_DIR_LOC_FILE),
        _d("ErrorLog", S, "TAKE1", error_log, "The filename of the error log",
           NOT_IN_DIR_LOC_FILE),
        _d("LogLevel", {RSRC, ACCESS}, "ITERATE", log_level, "Level of verbosity in error "
           "logging"),
        _d("Options", {OR_OPTIONS}, "RAW_ARGS",
           lambda e, c, a, n: options(e, c, _words(a, "Options"), n), "Set a number of "
           "attributes for a given directory"),
        _d("AllowOverride", {ACCESS}, "RAW_ARGS", lambda e, c, a, n: allow_override(e, c, _words(a, "AllowOverride"), n), "Controls what groups of "
           "directives can be configured by per-directory config files"),
        _d("AllowOverrideList", {ACCESS}, "RAW_ARGS", lambda e, c, a, n: allow_override_list(e, c, _words(a, "AllowOverrideList"), n), "Controls what "
           "individual directives can be configured by per-directory config files"),
        _d("AccessFileName", S, "RAW_ARGS", lambda e, c, a, n: access_file_name(e, c, _words(a, "AccessFileName"), n), "Name(s) of per-directory "
           "config files (default: .htaccess)"),
        _d("HostnameLookups", {RSRC, ACCESS}, "TAKE1", hostname_lookups,
           '"on" to enable, "off" to disable reverse DNS lookups, or "double" to enable '
           'double-reverse DNS lookups'),
        _d("EnableSendfile", {OR_FILEINFO},
           "TAKE1", _enable_word("enable_sendfile", "EnableSendfile"),
           'Controls whether sendfile may be used to transmit files'),
        _d("EnableMMAP", {OR_FILEINFO},
           "TAKE1", _enable_word("enable_mmap", "EnableMMAP"),
           'Controls whether memory-mapping may be used to read files'),
        _d("KeepAlive", S, "RAW_ARGS", keep_alive, "Whether persistent connections should be "
           "On or Off", NOT_IN_DIR_LOC_FILE),
        _d("KeepAliveTimeout", S, "TAKE1", keep_alive_timeout, "Keep-Alive "
           "timeout duration (sec)", NOT_IN_DIR_LOC_FILE),
        _d("MaxKeepAliveRequests", S, "TAKE1", _int_vh("max_keep_alive_requests"),
           "Maximum number of Keep-Alive requests per connection, or 0 for infinite",
           NOT_IN_DIR_LOC_FILE),
        _d("Timeout", S, "TAKE1", _duration("timeout"), "Timeout duration (sec)",
           NOT_IN_DIR_LOC_FILE),
        _d("LimitInternalRecursion", S, "TAKE12", limit_internal_recursion, "maximum "
           "recursion depth of internal redirects and subrequests", NOT_IN_DIR_LOC_FILE),
        _d("LimitRequestLine", S, "TAKE1", limit_request_line, "Limit on maximum size of an "
           "HTTP request line", NOT_IN_DIR_LOC_FILE),
        _d("LimitRequestFieldsize", S, "TAKE1", limit_request_fieldsize, "Limit on maximum "
           "size of an HTTP request header field", NOT_IN_DIR_LOC_FILE),
        _d("LimitRequestFields", S, "TAKE1", limit_request_fields, "Limit (0 = unlimited) on "
           "max number of header fields in a request message", NOT_IN_DIR_LOC_FILE),
        _d("LimitRequestBody", {RSRC, ACCESS, "AuthConfig", "Limit", OR_OPTIONS,
                                OR_FILEINFO, "Indexes"}, "TAKE1", limit_request_body,
           "Limit (in bytes) on maximum size of request message body"),
        _d("FileETag", {OR_FILEINFO}, "RAW_ARGS",
           lambda e, c, a, n: file_etag(e, c, _words(a, "FileETag"), n),
           "Specify components used to construct a file's ETag"),
        _d("ServerTokens", S, "TAKE1", server_tokens, "Tag the server HTTP Response header "
           "with product information", GLOBAL_ONLY),
        _d("ServerSignature", ALLC,
           "TAKE1", server_signature, "En-/disable server signature (on|off|email)"),
        _d("TraceEnable", S, "TAKE1", trace_enable, "'on' (default), 'off' or 'extended' to "
           "trace request body content", NOT_IN_DIR_LOC_FILE),
        _d("Protocols", S, "TAKE_ARGV", protocols, "Controls which protocols are allowed",
           NOT_IN_DIR_LOC_FILE),
        _d("AllowEncodedSlashes", S, "TAKE1", allow_encoded_slashes, "Allow URLs containing "
           "'/' encoded as '%2F'", NOT_IN_DIR_LOC_FILE),
        _d("ErrorDocument", {OR_FILEINFO}, "TAKE2", error_document, "Change responses for "
           "HTTP errors"),
        _d("ExtendedStatus", S, "FLAG", extended_status, '"On" to track extended status '
           'information, "Off" to disable', GLOBAL_ONLY),
        _d("AcceptFilter", S, "TAKE2", accept_filter, "Set the Accept Filter to use for a "
           "protocol", GLOBAL_ONLY),
        _d("Mutex", S, "TAKE_ARGV", lambda e, c, a, n: mutex(
            e, c, _need(a, "Mutex", "mechanism and optional list of mutex names"), n),
           "mutex (or \"default\") and mechanism", GLOBAL_ONLY),
        _d("Define", {RSRC, ACCESS, "AuthConfig", "Limit", OR_OPTIONS, OR_FILEINFO, "Indexes"},
           "TAKE12", define, "Define a variable, optionally to a value.  Same as passing -D "
           "to the command line."),
        _d("UnDefine", {RSRC, ACCESS, "AuthConfig", "Limit", OR_OPTIONS, OR_FILEINFO,
                        "Indexes"}, "TAKE1", undefine, "Undefine the existence of a "
           "variable. Undo a Define."),
        _d("Include", {RSRC, ACCESS, "AuthConfig", "Limit", OR_OPTIONS, OR_FILEINFO,
                       "Indexes"}, "TAKE1", include, "Name(s) of the config file(s) to be "
           "included; fails if the wildcard does not match at least one file"),
        _d("IncludeOptional", {RSRC, ACCESS, "AuthConfig", "Limit", OR_OPTIONS, OR_FILEINFO,
                               "Indexes"}, "TAKE1", include_optional, "Name or pattern of "
           "the config file(s) to be included; ignored if the file does not exist or the "
           "pattern does not match any files"),
        _d("ForceType", {OR_FILEINFO}, "TAKE1", force_type, "a mime type that overrides "
           "other configured type"),
        _d("SetHandler", {OR_FILEINFO}, "TAKE1", set_handler, "a handler name that overrides "
           "any other configured handler"),
        _d("SetOutputFilter", {OR_FILEINFO}, "TAKE1", set_output_filter, "filter (or ; "
           "delimited list of filters) to be run on the request content"),
        _d("DefaultType", {OR_FILEINFO}, "TAKE1", default_type, "the default media type "
           "for otherwise untyped files (DEPRECATED)"),
        _d("AddDefaultCharset", {OR_FILEINFO}, "TAKE1", add_default_charset, "The name of "
           "the default charset to add to any Content-Type without one or 'Off' to disable"),
        _d("UseCanonicalName", {RSRC, ACCESS}, "TAKE1", use_canonical_name, "How to work "
           "out the ServerName : Port when constructing URLs"),
        _d("NameVirtualHost", S, "TAKE1", lambda e, c, a, n: e.warnings.append(
            f"AH00548: NameVirtualHost has no effect and will be removed in the next release "
            f"{n.filename}:{n.line}"), "A numeric IP address:port, or the name of a host",
           GLOBAL_ONLY),
        _d("LoadModule", S, "TAKE2", load_module, "a module name and the name of a shared "
           "object file to load it from", GLOBAL_ONLY, module="so_module"),
        _d("User", S, "TAKE1", user, "Effective user id for this server", GLOBAL_ONLY,
           module="unixd_module"),
        _d("Group", S, "TAKE1", group, "Effective group id for this server", GLOBAL_ONLY,
           module="unixd_module"),
    ]
