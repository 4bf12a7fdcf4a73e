"""A small Discord for the tests: the REST routes and the gateway discord.py uses, on 127.0.0.1.

It plays one application with one guild and one text channel. Tests act as users: `command()`
sends an INTERACTION_CREATE for a slash command, `click()` one for a button, and both return an
`InteractionRecord` that fills in as the bot answers over REST. Discord's rules are enforced the
way Discord does (the request fails), and every broken rule is also listed in `violations`:

- the initial response must arrive within 3 s of the interaction, and only once;
- follow-ups and edits need an acknowledged interaction;
- content ≤ 2000 characters; ≤ 10 embeds; title ≤ 256, description ≤ 4096, ≤ 25 fields
  (name ≤ 256, value ≤ 1024), footer ≤ 2048, author ≤ 256, all text of a message's embeds ≤ 6000;
- ≤ 5 action rows of ≤ 5 buttons, custom_id ≤ 100 characters, unique within a message.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import WSMsgType, web

TOKEN = "fake-bot-token"
APPLICATION_ID = 1_100_000_000_000_000_001
BOT_USER_ID = APPLICATION_ID
OWNER_ID = 1_100_000_000_000_000_002
GUILD_ID = 1_100_000_000_000_000_003
CHANNEL_ID = 1_100_000_000_000_000_004

ACK_DEADLINE_S = 3.0
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_LIMITS = {"title": 256, "description": 4096}
EMBED_TOTAL_MAX = 6000
ATTACHMENT_MAX = 10 * 1024 * 1024  # what a server without boosts accepts per file
FIELDS_MAX, FIELD_NAME_MAX, FIELD_VALUE_MAX = 25, 256, 1024
FOOTER_MAX, AUTHOR_MAX = 2048, 256
ROWS_MAX, ROW_ITEMS_MAX, CUSTOM_ID_MAX = 5, 5, 100

# interaction callback types
MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
EPHEMERAL = 1 << 6
LOADING = 1 << 7
ALL_PERMISSIONS = str((1 << 50) - 1)


def user(user_id: int, name: str) -> dict:
    return {"id": str(user_id), "username": name, "global_name": name, "discriminator": "0", "avatar": None}


BOT_USER = {**user(BOT_USER_ID, "Lianju"), "bot": True}


def reply(data) -> web.Response:
    # discord.py parses a body only when the content type is exactly application/json, as Discord sends it.
    return web.Response(
        body=json.dumps(data, ensure_ascii=False).encode(), headers={"Content-Type": "application/json"}
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def pinged(payload: dict) -> list[dict]:
    """The users a message notifies, as Discord decides: those its content mentions that its
    allowed_mentions lets through (without allowed_mentions, every one)."""
    mentioned = [int(user) for user in re.findall(r"<@!?([0-9]+)>", payload.get("content") or "")]
    allowed = payload.get("allowed_mentions")
    if allowed is not None and "users" not in allowed.get("parse", []):
        mentioned = [user for user in mentioned if str(user) in {str(u) for u in allowed.get("users", [])}]
    return [{"id": str(user), "username": str(user), "discriminator": "0"} for user in dict.fromkeys(mentioned)]


def message_problems(payload: dict) -> list[str]:
    """What in a message payload Discord would refuse."""
    problems = []
    content = payload.get("content") or ""
    if len(content) > CONTENT_MAX:
        problems.append(f"content has {len(content)} characters (max {CONTENT_MAX})")
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        problems.append(f"{len(embeds)} embeds (max {EMBEDS_MAX})")
    total = 0
    for embed in embeds:
        for key, limit in EMBED_LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                problems.append(f"embed {key} has {len(text)} characters (max {limit})")
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_MAX:
            problems.append(f"embed has {len(fields)} fields (max {FIELDS_MAX})")
        for item in fields:
            total += len(item["name"]) + len(item["value"])
            if not item["name"] or len(item["name"]) > FIELD_NAME_MAX:
                problems.append(f"field name of {len(item['name'])} characters (1..{FIELD_NAME_MAX})")
            if not item["value"] or len(item["value"]) > FIELD_VALUE_MAX:
                problems.append(f"field value of {len(item['value'])} characters (1..{FIELD_VALUE_MAX})")
        for key, limit in (("footer", FOOTER_MAX), ("author", AUTHOR_MAX)):
            part = embed.get(key) or {}
            text = part.get("text") or part.get("name") or ""
            total += len(text)
            if len(text) > limit:
                problems.append(f"embed {key} has {len(text)} characters (max {limit})")
    if total > EMBED_TOTAL_MAX:
        problems.append(f"embeds hold {total} characters (max {EMBED_TOTAL_MAX})")
    rows = payload.get("components") or []
    if len(rows) > ROWS_MAX:
        problems.append(f"{len(rows)} action rows (max {ROWS_MAX})")
    custom_ids = [item.get("custom_id") for row in rows for item in row.get("components", []) if item.get("custom_id")]
    for row in rows:
        if len(row.get("components", [])) > ROW_ITEMS_MAX:
            problems.append(f"an action row holds {len(row['components'])} items (max {ROW_ITEMS_MAX})")
    if any(len(custom_id) > CUSTOM_ID_MAX for custom_id in custom_ids):
        problems.append(f"a custom_id is longer than {CUSTOM_ID_MAX} characters")
    if len(set(custom_ids)) != len(custom_ids):
        problems.append("custom_ids repeat within one message")
    return problems


@dataclass
class InteractionRecord:
    id: int
    token: str
    payload: dict
    sent_at: float
    acked_at: float | None = None
    response_type: int | None = None
    ephemeral: bool = False
    original: dict | None = None  # the message the interaction's response is
    followups: list[dict] = field(default_factory=list)
    answered_at: float | None = None  # when a message with content or embeds first became visible
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ack_latency(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.sent_at

    @property
    def answer_latency(self) -> float | None:
        return None if self.answered_at is None else self.answered_at - self.sent_at

    def _visible(self, message: dict | None) -> bool:
        return bool(message and not message["flags"] & LOADING and (message["content"] or message["embeds"]))

    def note_change(self) -> None:
        if self.answered_at is None and any(map(self._visible, [self.original, *self.followups])):
            self.answered_at = time.monotonic()
        self.changed.set()

    async def answered(self, timeout: float = 60.0) -> InteractionRecord:
        """Wait until the person can read an answer (not a 'thinking…' placeholder)."""

        async def wait():
            while self.answered_at is None:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)
        return self

    async def followed_up(self, count: int = 1, timeout: float = 30.0) -> list[dict]:
        async def wait():
            while len(self.followups) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)
        return self.followups


class DiscordError(web.HTTPException):
    def __init__(self, status: int, code: int, message: str):
        self.status_code = status
        super().__init__(text=json.dumps({"code": code, "message": message}), content_type="application/json")


class FakeDiscord:
    def __init__(self) -> None:
        self.ids = itertools.count(1_200_000_000_000_000_000)
        self.sequence = itertools.count(1)
        self.interactions: dict[int, InteractionRecord] = {}
        self.messages: dict[int, dict] = {}
        self.channel_messages: list[dict] = []  # posted by the bot with POST /channels/…/messages
        self.files: dict[int, bytes] = {}  # attachment id → the bytes uploaded
        self.commands: list[dict] = []
        self.command_syncs = 0
        self.violations: list[str] = []
        # What Discord answers the bot's posts in a channel instead of posting (see refuse_posts)
        self.refusals: dict[int, tuple[int, int, str, bool]] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.identified = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    # --- server ----------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._authorised])
        api = "/api/v10"
        app.router.add_get(f"{api}/users/@me", self._me)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._application)
        app.router.add_get(f"{api}/gateway/bot", self._gateway_bot)
        app.router.add_get(f"{api}/applications/{{app}}/commands", self._get_commands)
        app.router.add_put(f"{api}/applications/{{app}}/commands", self._put_commands)
        app.router.add_post(f"{api}/interactions/{{id}}/{{token}}/callback", self._callback)
        app.router.add_patch(f"{api}/webhooks/{{app}}/{{token}}/messages/@original", self._edit_original)
        app.router.add_get(f"{api}/webhooks/{{app}}/{{token}}/messages/@original", self._get_original)
        app.router.add_post(f"{api}/webhooks/{{app}}/{{token}}", self._followup)
        app.router.add_post(f"{api}/channels/{{channel}}/messages", self._channel_message)
        app.router.add_get("/gateway", self._gateway)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for socket in self.sockets:
            await socket.close()
        await self.runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @web.middleware
    async def _authorised(self, request: web.Request, handler):
        # Interaction callbacks and webhooks are authorised by their token, not the bot's.
        open_paths = ("/gateway", "/api/v10/interactions/", "/api/v10/webhooks/")
        if not request.path.startswith(open_paths) and request.headers.get("Authorization") != f"Bot {TOKEN}":
            raise DiscordError(401, 0, "401: Unauthorized")
        return await handler(request)

    def _violate(self, status: int, code: int, problem: str):
        self.violations.append(problem)
        return DiscordError(status, code, problem)

    # --- REST ------------------------------------------------------------------------------------

    async def _me(self, request):
        return reply(BOT_USER)

    async def _get_commands(self, request):
        return reply(self.commands)

    async def _application(self, request):
        return reply(
            {
                "id": str(APPLICATION_ID),
                "name": "Lianju",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user(OWNER_ID, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _gateway_bot(self, request):
        return reply(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
            }
        )

    async def _put_commands(self, request):
        self.command_syncs += 1
        self.commands = [
            {**command, "id": str(next(self.ids)), "application_id": str(APPLICATION_ID), "version": "1"}
            for command in await request.json()
        ]
        return reply(self.commands)

    def attachment(self, message: dict, filename: str) -> bytes:
        """The bytes of the message's attachment of that name, as the bot uploaded them."""
        found = [item for item in message["attachments"] if item["filename"] == filename]
        if not found:
            raise LookupError(f"message {message['id']} has no attachment {filename}: {message['attachments']}")
        return self.files[int(found[0]["id"])]

    async def _body(self, request) -> tuple[dict, list[tuple[str, bytes]]]:
        """The JSON body and the files of a request: discord.py sends a message with files as
        multipart/form-data, the JSON in a part named payload_json and each file in files[n]."""
        if not request.content_type.startswith("multipart/"):
            return await request.json(), []
        body: dict = {}
        files = []
        async for part in await request.multipart():
            data = await part.read()
            if part.name == "payload_json":
                body = json.loads(data)
            else:
                files.append((part.filename, bytes(data)))
        return body, files

    def _attachments(self, files: list[tuple[str, bytes]]) -> list[dict]:
        attachments = []
        for filename, data in files:
            if len(data) > ATTACHMENT_MAX:
                raise self._violate(413, 40005, f"{filename} has {len(data)} bytes (max {ATTACHMENT_MAX})")
            attachment_id = next(self.ids)
            self.files[attachment_id] = data
            url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{filename}"
            attachments.append(
                {"id": str(attachment_id), "filename": filename, "size": len(data), "url": url, "proxy_url": url}
            )
        return attachments

    def _message(
        self,
        channel_id: int,
        payload: dict,
        *,
        flags: int = 0,
        interaction: bool = False,
        files: list[tuple[str, bytes]] | None = None,
    ) -> dict:
        problems = message_problems(payload)
        if problems:
            raise self._violate(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        message = {
            "id": str(next(self.ids)),
            "channel_id": str(channel_id),
            "guild_id": str(GUILD_ID),
            "author": BOT_USER,
            "content": payload.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": pinged(payload),
            "mention_roles": [],
            "attachments": self._attachments(files or []),
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "pinned": False,
            "type": 20 if interaction else 0,
            "flags": flags | (payload.get("flags") or 0),
        }
        if interaction:
            message["webhook_id"] = message["application_id"] = str(APPLICATION_ID)
        self.messages[int(message["id"])] = message
        return message

    def _edit(self, message: dict, payload: dict, files: list[tuple[str, bytes]] | None = None) -> dict:
        merged = {key: payload.get(key, message[key]) for key in ("content", "embeds", "components")}
        problems = message_problems(merged)
        if problems:
            raise self._violate(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        if "attachments" in payload:  # as Discord does: the attachments listed by id stay, new files join them
            kept = {str(item.get("id")) for item in payload["attachments"] or []}
            message["attachments"] = [item for item in message["attachments"] if item["id"] in kept]
        message["attachments"] += self._attachments(files or [])
        message.update(
            {key: value if value is not None else ([] if key != "content" else "") for key, value in merged.items()}
        )
        if message["flags"] & LOADING:  # a deferred answer's first content notifies like a new message
            message["mentions"] = pinged(payload)
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = now_iso()
        return message

    def _record(self, token: str) -> InteractionRecord:
        record = next((r for r in self.interactions.values() if r.token == token), None)
        if record is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if record.acked_at is None:
            raise self._violate(404, 10015, f"webhook use before interaction {record.id} was acknowledged")
        return record

    async def _callback(self, request):
        record = self.interactions.get(int(request.match_info["id"]))
        if record is None or record.token != request.match_info["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        late = time.monotonic() - record.sent_at
        if record.acked_at is not None:
            raise self._violate(400, 40060, f"interaction {record.id} has already been acknowledged")
        if late > ACK_DEADLINE_S:
            raise self._violate(404, 10062, f"interaction {record.id} acknowledged after {late:.2f} s (max 3 s)")
        body, files = await self._body(request)
        kind, data = body["type"], body.get("data") or {}
        channel_id = int(record.payload["channel_id"])
        if kind == MESSAGE:
            record.original = self._message(channel_id, data, interaction=True, files=files)
        elif kind == DEFERRED_MESSAGE:
            record.original = self._message(channel_id, {}, flags=LOADING | (data.get("flags") or 0), interaction=True)
        elif kind == UPDATE_MESSAGE:
            target = self.messages[int(record.payload["message"]["id"])]
            record.original = self._edit(target, data, files)
        elif kind == DEFERRED_UPDATE:
            record.original = self.messages[int(record.payload["message"]["id"])]
        else:
            raise DiscordError(400, 50035, f"callback type {kind} is not supported by the fake")
        record.acked_at = time.monotonic()
        record.response_type = kind
        record.ephemeral = bool(record.original["flags"] & EPHEMERAL)
        record.note_change()
        resource = {"type": kind}
        if kind in (MESSAGE, UPDATE_MESSAGE):
            resource["message"] = record.original
        return reply(
            {
                "interaction": {
                    "id": str(record.id),
                    "type": record.payload["type"],
                    "response_message_id": record.original["id"],
                    "response_message_loading": kind == DEFERRED_MESSAGE,
                    "response_message_ephemeral": record.ephemeral,
                },
                "resource": resource,
            }
        )

    async def _edit_original(self, request):
        record = self._record(request.match_info["token"])
        self._edit(record.original, *await self._body(request))
        record.note_change()
        return reply(record.original)

    async def _get_original(self, request):
        return reply(self._record(request.match_info["token"]).original)

    async def _followup(self, request):
        record = self._record(request.match_info["token"])
        body, files = await self._body(request)
        if record.original["flags"] & LOADING:  # as Discord does: the first follow-up replaces "thinking…"
            message = self._edit(record.original, body, files)
        else:
            message = self._message(int(record.payload["channel_id"]), body, interaction=True, files=files)
            record.followups.append(message)
        record.note_change()
        return reply(message)

    def refuse_posts(self, channel_id: int, why: str | None) -> None:
        """From now on the bot's posts in the channel fail as Discord fails them: "gone" (the channel
        was deleted), "forbidden" (the bot may not send there), "no_files" (it may not attach files);
        None: posts go through again."""
        refusals = {
            "gone": (404, 10003, "Unknown Channel", False),
            "forbidden": (403, 50013, "Missing Permissions", False),
            "no_files": (403, 50013, "Missing Permissions", True),
        }
        if why is None:
            self.refusals.pop(channel_id, None)
        else:
            self.refusals[channel_id] = refusals[why]

    async def _channel_message(self, request):
        body, files = await self._body(request)
        refused = self.refusals.get(int(request.match_info["channel"]))
        if refused and (files or not refused[3]):
            raise DiscordError(*refused[:3])
        message = self._message(int(request.match_info["channel"]), body, files=files)
        self.channel_messages.append(message)
        return reply(message)

    # --- gateway ---------------------------------------------------------------------------------

    async def _gateway(self, request):
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41_250}, "s": None, "t": None})
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            if message["op"] == 1:
                await socket.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif message["op"] == 2:
                if message["d"]["token"] != TOKEN:
                    await socket.close(code=4004, message=b"Authentication failed.")
                    break
                shard = message["d"].get("shard", [0, 1])
                await self._dispatch(
                    socket,
                    "READY",
                    {
                        "v": 10,
                        "user": BOT_USER,
                        "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
                        "session_id": "fake-session",
                        "resume_gateway_url": self.gateway_url,
                        "shard": shard,
                        "application": {"id": str(APPLICATION_ID), "flags": 0},
                    },
                )
                await self._dispatch(socket, "GUILD_CREATE", self._guild())
                self.identified.set()
        if socket in self.sockets:
            self.sockets.remove(socket)
        return socket

    async def _dispatch(self, socket: web.WebSocketResponse, event: str, data: dict) -> None:
        await socket.send_json({"op": 0, "t": event, "s": next(self.sequence), "d": data})

    def _guild(self) -> dict:
        channel = {
            "id": str(CHANNEL_ID),
            "type": 0,
            "name": "poems",
            "position": 0,
            "guild_id": str(GUILD_ID),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }
        everyone = {
            "id": str(GUILD_ID),
            "name": "@everyone",
            "permissions": "0",
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        return {
            "id": str(GUILD_ID),
            "name": "诗社",
            "icon": None,
            "owner_id": str(OWNER_ID),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "zh-CN",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": now_iso(),
            "large": False,
            "unavailable": False,
            "member_count": 2,
            "voice_states": [],
            "members": [],
            "channels": [channel],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }

    # --- users -----------------------------------------------------------------------------------

    async def _interaction(
        self,
        kind: int,
        data: dict,
        *,
        user_id: int,
        name: str,
        locale: str,
        permissions: str,
        message: dict | None = None,
        channel_id: int = CHANNEL_ID,
    ) -> InteractionRecord:
        if not self.sockets:
            raise RuntimeError("the bot is not connected to the gateway")
        interaction_id = next(self.ids)
        payload = {
            "id": str(interaction_id),
            "application_id": str(APPLICATION_ID),
            "type": kind,
            "token": f"token-{interaction_id}",
            "version": 1,
            "guild_id": str(GUILD_ID),
            "channel_id": str(channel_id),
            "channel": {
                "id": str(channel_id),
                "type": 0,
                "guild_id": str(GUILD_ID),
                "name": "poems",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
            },
            "member": {
                "user": user(user_id, name),
                "roles": [],
                "permissions": permissions,
                "joined_at": now_iso(),
                "deaf": False,
                "mute": False,
                "flags": 0,
            },
            "locale": locale,
            "guild_locale": "zh-CN",
            "app_permissions": ALL_PERMISSIONS,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
            "data": data,
        }
        if message is not None:
            payload["message"] = message
        record = InteractionRecord(interaction_id, payload["token"], payload, time.monotonic())
        self.interactions[interaction_id] = record
        await self._dispatch(self.sockets[-1], "INTERACTION_CREATE", payload)
        return record

    async def command(
        self,
        name: str,
        options: dict | None = None,
        *,
        subcommand: str | None = None,
        user_id: int = 1_300_000_000_000_000_001,
        name_of_user: str = "李白",
        locale: str = "zh-CN",
        permissions: str = "0",
        channel_id: int = CHANNEL_ID,
    ) -> InteractionRecord:
        """A person runs a slash command (in the guild's channel, or another one by id); options by
        their (English) names."""
        registered = next((c for c in self.commands if c["name"] == name), None)
        if registered is None:
            raise LookupError(f"/{name} was never synced to the fake Discord")
        resolved: dict = {}
        values = []
        for option, value in (options or {}).items():
            if option == "channel":
                resolved.setdefault("channels", {})[str(value)] = {
                    "id": str(value),
                    "type": 0,
                    "name": "poems",
                    "guild_id": str(GUILD_ID),
                    "permissions": ALL_PERMISSIONS,
                }
                values.append({"name": option, "type": 7, "value": str(value)})
            else:
                kind = {str: 3, bool: 5, int: 4, float: 10}[type(value)]
                values.append({"name": option, "type": kind, "value": value})
        if subcommand:
            values = [{"name": subcommand, "type": 1, "options": values}]
        data = {"id": registered["id"], "name": name, "type": 1, "options": values}
        if resolved:
            data["resolved"] = resolved
        return await self._interaction(
            2, data, user_id=user_id, name=name_of_user, locale=locale, permissions=permissions, channel_id=channel_id
        )

    async def click(
        self,
        message: dict,
        custom_id: str,
        *,
        user_id: int = 1_300_000_000_000_000_002,
        name_of_user: str = "杜甫",
        locale: str = "zh-CN",
    ) -> InteractionRecord:
        """A person clicks a button of a message the bot sent."""
        ids = [item.get("custom_id") for row in message["components"] for item in row["components"]]
        if custom_id not in ids:
            raise LookupError(f"{custom_id} is not a button of message {message['id']}")
        return await self._interaction(
            3,
            {"custom_id": custom_id, "component_type": 2},
            user_id=user_id,
            name=name_of_user,
            locale=locale,
            permissions="0",
            message=message,
        )
