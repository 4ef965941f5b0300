"""Stage (ablation): intra-image rank pre-training on nested crops of the same unlabelled sources,
plus the same unlabelled photos' crops that SYRAC trains on (pretrain.unlabelled_photos), so the two
differ only in the synthetic edits."""


from syrac import config, storage
from syrac.method.model import save_rank_model
from syrac.method.pretrain import nested_crop_pairs, photo_pairs, pretrain

if __name__ == "__main__":
    args = config.stage_paths("pairs_dir", "people_dir", "model_path", "metrics_path", "checkpoint")
    cfg = config.load_for_stage()
    sources = sorted({r["source"] for r in storage.read_csv(args.pairs_dir / "pairs.csv")})  # the images, not the edits
    a = cfg.ablation
    pairs = nested_crop_pairs([args.pairs_dir / s for s in sources], cfg.model.input_size, a.intra_crops,
                              a.intra_crop_scale, cfg.seed)
    model, summary = pretrain(cfg, pairs, checkpoint=args.checkpoint, photos=photo_pairs(cfg, args.people_dir))
    save_rank_model(
        args.model_path, model, cfg.model.backbone, cfg.model.input_size, {"best_epoch": summary["best_epoch"]}
    )
    storage.write_json(args.metrics_path, summary)
    print(f"intra-image ranking: best held-out accuracy {summary['holdout_ranking_accuracy']:.3f}")
