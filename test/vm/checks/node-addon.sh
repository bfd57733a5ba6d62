# Node from the host's root runs in the guest and loads the project's dist/ and native addon:
# what later tests need to run oomwarden's engine on this kernel.
set -eu
start=$(date +%s%N)
"$NODE" -e 0
end=$(date +%s%N)
echo $(((end - start) / 1000000)) > node-start-ms
"$NODE" "$VM_IN/node-addon.mjs" > facts.json
