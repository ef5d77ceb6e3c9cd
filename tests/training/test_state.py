from __future__ import annotations

import torch

from training.state import JSON_FILE, TENSORS_FILE, restore_trainer, trainer_files


def _stepped_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(3):
        loss = model(torch.ones(4, 3)).square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return opt


def test_optimizer_state_round_trip_without_pickle() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = _stepped_optimizer(model)
    files = trainer_files(opt, {"step": 3})
    assert set(files) == {TENSORS_FILE, JSON_FILE}

    fresh = torch.optim.AdamW(model.parameters(), lr=1.0)
    info = restore_trainer(fresh, files[TENSORS_FILE], files[JSON_FILE])
    assert info == {"step": 3}
    want, got = opt.state_dict(), fresh.state_dict()
    assert want["param_groups"] == got["param_groups"]
    for pid, entries in want["state"].items():
        for name, value in entries.items():
            assert torch.equal(value, got["state"][pid][name]), (pid, name)
