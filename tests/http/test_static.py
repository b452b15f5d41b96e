"""StaticFiles: 200/304/404/405, HEAD, index.html, mounted files, path traversal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from channels.http import Request, Response, StaticFiles

from ._support import RawClient, get, http_server


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "js").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "js" / "app.js").write_text("console.log(1)")
    (root / "docs" / "index.html").write_text("docs")
    (root / "logo.png").write_bytes(b"\x89PNG")
    (root / "data.unknownext").write_bytes(b"?")
    (tmp_path / "secret.txt").write_text("top secret")
    return root


def req(target: str, method: str = "GET", *headers: tuple[str, str]) -> Request:
    return Request.build(method=method, target=target, headers=[("Host", "x"), *headers])


async def test_file_is_served_with_type_etag_and_cache_control(site: Path) -> None:
    response = await StaticFiles(site).respond(req("/js/app.js"))
    assert response.status == 200
    assert response.body == b"console.log(1)"
    headers = dict(response.headers)
    assert headers["content-type"] in (
        "text/javascript; charset=utf-8",
        "application/javascript; charset=utf-8",
    )
    assert headers["etag"].startswith('"')
    assert headers["cache-control"] == "public, max-age=0, must-revalidate"


async def test_content_types_by_extension(site: Path) -> None:
    static = StaticFiles(site)
    assert dict((await static.respond(req("/logo.png"))).headers)["content-type"] == "image/png"
    assert dict((await static.respond(req("/"))).headers)["content-type"] == "text/html; charset=utf-8"
    unknown = await static.respond(req("/data.unknownext"))
    assert dict(unknown.headers)["content-type"] == "application/octet-stream"


async def test_root_and_directories_serve_index_html(site: Path) -> None:
    static = StaticFiles(site)
    assert (await static.respond(req("/"))).body == b"<h1>home</h1>"
    assert (await static.respond(req("/docs"))).body == b"docs"
    assert (await static.respond(req("/docs/"))).body == b"docs"
    assert (await static.respond(req("/js/"))).status == 404


async def test_matching_if_none_match_gets_304_and_a_changed_file_gets_200(site: Path) -> None:
    static = StaticFiles(site)
    first = await static.respond(req("/js/app.js"))
    etag = dict(first.headers)["etag"]
    again = await static.respond(req("/js/app.js", "GET", ("If-None-Match", f'"nope", W/{etag}')))
    assert again.status == 304
    assert again.body == b""
    assert dict(again.headers)["etag"] == etag
    (site / "js" / "app.js").write_text("console.log(22)")
    os.utime(site / "js" / "app.js", ns=(1, 1))
    changed = await static.respond(req("/js/app.js", "GET", ("If-None-Match", etag)))
    assert changed.status == 200


async def test_missing_file_is_404(site: Path) -> None:
    assert (await StaticFiles(site).respond(req("/nope.txt"))).status == 404


@pytest.mark.parametrize(
    "target", ["/../secret.txt", "/%2e%2e/secret.txt", "/js/..%2F..%2Fsecret.txt", "/js/../../secret.txt"]
)
async def test_path_traversal_is_404(site: Path, target: str) -> None:
    response = await StaticFiles(site).respond(req(target))
    assert response.status == 404
    assert b"secret" not in response.body


async def test_symlink_out_of_the_root_is_404(site: Path) -> None:
    (site / "escape.txt").symlink_to(site.parent / "secret.txt")
    assert (await StaticFiles(site).respond(req("/escape.txt"))).status == 404


async def test_other_methods_get_405_with_allow(site: Path) -> None:
    response = await StaticFiles(site).respond(req("/", "POST"))
    assert response.status == 405
    assert dict(response.headers)["allow"] == "GET, HEAD"


async def test_prefix_limits_the_served_paths(site: Path) -> None:
    static = StaticFiles(site, prefix="/assets")
    assert (await static.respond(req("/assets/js/app.js"))).status == 200
    assert (await static.respond(req("/js/app.js"))).status == 404
    assert (await static.respond(req("/assetsjs/app.js"))).status == 404
    assert static.handles("/assets/x")
    assert not static.handles("/other")


async def test_mounted_single_files_are_served_at_their_url(site: Path, tmp_path: Path) -> None:
    vendored = tmp_path / "node_modules" / "phoenix" / "priv" / "static" / "phoenix.js"
    vendored.parent.mkdir(parents=True)
    vendored.write_text("export class Socket {}")
    static = StaticFiles(None, files={"/js/phoenix.js": vendored})
    assert (await static.respond(req("/js/phoenix.js"))).body == b"export class Socket {}"
    assert (await static.respond(req("/js/app.js"))).status == 404
    assert static.handles("/js/phoenix.js")


async def test_static_files_over_tcp_get_head_304_and_traversal(site: Path) -> None:
    static = StaticFiles(site)

    async def handler(request: Request, body: object) -> Response:
        return await static.respond(request)

    with trio.fail_after(5):
        async with http_server(handler) as port:
            client = await RawClient.connect(port)
            await client.send(get("/js/app.js"))
            ok = await client.read_response()
            assert ok.status == 200
            assert ok.body == b"console.log(1)"
            etag = ok.header("etag")
            assert etag
            await client.send(get("/js/app.js", method="HEAD"))
            head = await client.read_response(head=True)
            assert head.status == 200
            assert head.header("content-length") == str(len(b"console.log(1)"))
            await client.send(get("/js/app.js", f"If-None-Match: {etag}"))
            assert (await client.read_response()).status == 304
            await client.send(get("/../secret.txt"))
            assert (await client.read_response()).status == 404
            await client.send(get("/%2e%2e/secret.txt"))
            assert (await client.read_response()).status == 404
            await client.aclose()
