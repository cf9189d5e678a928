"""IAM (Zhu et al., CVPR 2019): the instance extent filling module, its weak-supervision training and export."""
