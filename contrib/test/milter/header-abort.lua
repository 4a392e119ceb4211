-- miltertest script: fedmail-milter adds its header to a message whose body
-- arrives in several chunks; a message aborted mid-body followed by a new
-- message on the same connection gets the header too.
-- Usage: miltertest -D socket=unix:/path -s header-abort.lua
local function check(result, what)
    if result ~= nil then error(what .. " failed: " .. tostring(result)) end
end
local function continued(conn, what)
    if mt.getreply(conn) ~= SMFIR_CONTINUE then error(what .. ": milter did not continue") end
end

local conn = mt.connect(socket, 10, 0.25)
if conn == nil then error("cannot connect to " .. socket) end

mt.macro(conn, SMFIC_CONNECT, "j", "mx.example", "{daemon_name}", "lua-test")
check(mt.conninfo(conn, "client.example", "127.0.0.1"), "conninfo")
continued(conn, "connect")
check(mt.helo(conn, "client.example"), "helo")
continued(conn, "helo")

-- message 1: aborted in the middle of the body
check(mt.mailfrom(conn, "<a@example.org>"), "mailfrom 1")
continued(conn, "mailfrom 1")
check(mt.rcptto(conn, "<b@example.net>"), "rcptto 1")
continued(conn, "rcptto 1")
check(mt.header(conn, "Subject", "aborted"), "header 1")
-- An S/MIME Content-Type for one of the milter's Domains (example.net): it
-- may be sealed for us, so the milter reads the body.
check(mt.header(conn, "Content-Type", "application/pkcs7-mime; smime-type=authenveloped-data"), "header 1 Content-Type")
check(mt.eoh(conn), "eoh 1")
check(mt.bodystring(conn, string.rep("aborted body line\r\n", 2000)), "body 1")
check(mt.abort(conn), "abort")

-- message 2: body in three chunks, must get the header
check(mt.mailfrom(conn, "<a@example.org>"), "mailfrom 2")
continued(conn, "mailfrom 2")
check(mt.rcptto(conn, "<b@example.net>"), "rcptto 2")
continued(conn, "rcptto 2")
check(mt.header(conn, "From", "a@example.org"), "header From")
check(mt.header(conn, "Subject", "three chunks"), "header Subject")
check(mt.header(conn, "Content-Type", "application/pkcs7-mime; smime-type=authenveloped-data"), "header Content-Type")
check(mt.eoh(conn), "eoh 2")
check(mt.bodystring(conn, string.rep("first chunk\r\n", 1000)), "body chunk 1")
check(mt.bodystring(conn, string.rep("second chunk\r\n", 1000)), "body chunk 2")
check(mt.bodystring(conn, "last line\r\n"), "body chunk 3")
check(mt.eom(conn), "eom")
-- no recipient is federated (no allowlist): nothing may be changed
if mt.eom_check(conn, MT_HDRADD) or mt.eom_check(conn, MT_HDRCHANGE) or mt.eom_check(conn, MT_BODYCHANGE) then
    error("a message with no federated recipient was modified")
end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("end of message not continued") end

-- message 3: plain text, no federated recipient: the milter tells from the
-- header fields that it is untouched and accepts it at end of headers
check(mt.mailfrom(conn, "<a@example.org>"), "mailfrom 3")
continued(conn, "mailfrom 3")
check(mt.rcptto(conn, "<b@example.net>"), "rcptto 3")
continued(conn, "rcptto 3")
check(mt.header(conn, "Subject", "plain"), "header 3")
check(mt.eoh(conn), "eoh 3")
if mt.getreply(conn) ~= SMFIR_ACCEPT then error("end of headers of a plain message not accepted") end
print("miltertest: message untouched after an aborted message and a three-chunk body; a plain one accepted at end of headers")
mt.disconnect(conn)
