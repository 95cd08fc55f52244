"""
The guide's REST example (examples/send_feature_events.py): send feature values over the API
with plain `requests` — one at a time, in a batch, with retries — and simulate a stream of events.

From the repository root, FStore running (`npm run dev`):

    export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
    PYTHONPATH=clients/python python3 examples/send_feature_events.py [--simulate ROUNDS]

The guide's functions are unchanged but for one header: FStore only accepts requests that carry
an API key (`Authorization: Bearer <key>`, here from FSTORE_KEY). FSTORE_URL overrides the URL.
"""
import os
import random
import sys
import time
from datetime import datetime
from typing import Dict, List

import requests

from fstore import FeatureStore

try:
    from tenacity import retry, stop_after_attempt
except ImportError:  # tenacity is optional here (Debian: python3-tenacity); the same three attempts without it
    def stop_after_attempt(attempts):
        return attempts

    def retry(stop):
        def decorate(fn):
            def attempt(*args, **kwargs):
                for n in range(1, stop + 1):
                    try:
                        return fn(*args, **kwargs)
                    except requests.exceptions.RequestException:
                        if n == stop:
                            raise
                        time.sleep(0.2 * n)
            return attempt
        return decorate

BASE_URL = os.environ.get("FSTORE_URL", "http://localhost:8000")
# Not in the guide: FStore needs an API key on every request.
HEADERS = {"Authorization": f"Bearer {os.environ.get('FSTORE_KEY', '')}"}


def send_feature_value(feature_id: str, entity_id: str, value: float):
    """
    Envia um valor de feature via API
    """
    url = BASE_URL + "/api/v1/features/{}/values".format(feature_id)

    payload = {
        "entity_id": entity_id,
        "value": value,
        "timestamp": datetime.utcnow().isoformat()
    }

    response = requests.post(url, json=payload, headers=HEADERS)
    return response.status_code == 200


def simulate_events(rounds=None):
    """
    Simula eventos de features para demonstração (the guide loops forever; `rounds` bounds it)
    """
    feature_configs = [
        {
            "feature_id": "customer_purchase_amount",
            "entity_ids": ["customer_1", "customer_2"],
            "min_value": 10.0,
            "max_value": 1000.0
        },
        {
            "feature_id": "product_stock_level",
            "entity_ids": ["product_1", "product_2"],
            "min_value": 0.0,
            "max_value": 100.0
        }
    ]

    done = 0
    while rounds is None or done < rounds:
        for config in feature_configs:
            for entity_id in config["entity_ids"]:
                value = random.uniform(config["min_value"], config["max_value"])
                send_feature_value(config["feature_id"], entity_id, value)
        done += 1
        if rounds is None or done < rounds:
            time.sleep(5)  # Espera 5 segundos entre lotes


def send_batch_values(features: List[Dict]):
    url = BASE_URL + "/api/v1/features/batch"
    response = requests.post(url, json=features, headers=HEADERS)
    return response.status_code == 200


@retry(stop=stop_after_attempt(3))
def send_feature_with_retry(feature_id, entity_id, value):
    return send_feature_value(feature_id, entity_id, value)


if __name__ == "__main__":
    if not os.environ.get("FSTORE_KEY"):
        sys.exit("Set FSTORE_KEY to an API key: export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)")

    # The guide's features must exist before values can be sent (safe to run again).
    store = FeatureStore(url=BASE_URL)
    store.create_feature(name="customer_purchase_amount", entity_id="customer")
    store.create_feature(name="product_stock_level", entity_id="product")

    # Exemplo de uso
    success = send_feature_value(
        feature_id="customer_purchase_amount",
        entity_id="customer_123",
        value=99.99
    )
    print(f"Envio {'bem-sucedido' if success else 'falhou'}")

    # Tratamento de Erros
    try:
        success = send_feature_value("customer_purchase_amount", "customer_456", 12.5)
    except requests.exceptions.RequestException as e:
        print(f"Erro na requisição: {str(e)}")

    # Envio em Lote
    batch_ok = send_batch_values([
        {"feature_id": "customer_purchase_amount", "entity_id": "customer_1", "value": 10.5,
         "timestamp": datetime.utcnow().isoformat()},
        {"feature_id": "product_stock_level", "entity_id": "product_1", "value": 42,
         "timestamp": datetime.utcnow().isoformat()},
    ])
    print(f"Lote {'bem-sucedido' if batch_ok else 'falhou'}")

    # Retry em Falhas
    print(f"Retry {'bem-sucedido' if send_feature_with_retry('product_stock_level', 'product_2', 7) else 'falhou'}")

    if "--simulate" in sys.argv:
        simulate_events(int(sys.argv[sys.argv.index("--simulate") + 1]))
        print("Simulação concluída")
