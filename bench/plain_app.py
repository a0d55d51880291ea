"""The 2018 design, for comparison: a FastAPI + SQLAlchemy endpoint returning plaintext columns.

No authentication, no policy, no encryption, no audit: the order row as stored.
Served by uvicorn exactly like Veil in `core_http.py`.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, HTTPException
from sqlalchemy import Column, MetaData, String, Table, create_engine, select

metadata = MetaData()
plain_orders = Table(
    "plain_orders",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("state", String(16)),
    Column("name", String(100)),
    Column("phone", String(32)),
    Column("province", String(50)),
    Column("city", String(50)),
    Column("district", String(50)),
    Column("street", String(100)),
    Column("building", String(100)),
    Column("landmark", String(100)),
    Column("floor", String(20)),
    Column("room", String(20)),
    Column("note", String(500)),
)


def create_plain_app(url: str) -> FastAPI:
    engine = create_engine(url, connect_args={"check_same_thread": False})
    app = FastAPI()

    @app.get("/plain/orders/{order_id}")
    def get_order(order_id: str) -> dict[str, Any]:
        with engine.connect() as connection:
            row = connection.execute(
                select(plain_orders).where(plain_orders.c.id == order_id)
            ).first()
        if row is None:
            raise HTTPException(404)
        data = dict(row._mapping)
        return {
            "order_id": data["id"],
            "state": data["state"],
            "customer": {"name": data["name"], "phone": data["phone"]},
            "address": {
                k: data[k]
                for k in (
                    "province",
                    "city",
                    "district",
                    "street",
                    "building",
                    "landmark",
                    "floor",
                    "room",
                )
            },
            "note": data["note"],
        }

    return app


def app_from_env() -> FastAPI:
    return create_plain_app(os.environ["PLAIN_DATABASE_URL"])
