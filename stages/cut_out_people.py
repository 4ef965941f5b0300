"""Stage: people cut out of the unlabelled photos (``pretrain.unlabelled_photos``, less their development
part) where the SSD peer detector finds them large and is sure of them, for the counting set's scenes of
photographed people (``counting.photo_people``), and every box it is sure of, for removal edits aimed at
people (``pretrain.photo_removal_aim``). With neither asked for it writes an empty pool and loads no
detector."""

from syrac import config, storage
from syrac.data.datasets import unlabelled_photos
from syrac.data.people import cut_out_people
from syrac.studies.peers import SsdPeople

if __name__ == "__main__":
    args = config.stage_paths("out_dir", "metrics_path")
    cfg = config.load_for_stage()
    counting = cfg.counting
    scan = counting.photo_people or cfg.pretrain.removes_detected_people
    photos = unlabelled_photos(cfg.pretrain.unlabelled_photos) if scan else []
    photos, skipped = storage.readable_images(photos, cfg.data.bad_images, "checking photos")
    summary = cut_out_people(photos, SsdPeople().people if photos else None, counting.people_score,
                             counting.people_min_height, args.out_dir)
    storage.write_json(args.metrics_path, {**summary, "skipped_bad_images": skipped})
    print(f"{summary['people']} people cut out of {summary['photos']} photos, {summary['boxes']} boxes kept")
