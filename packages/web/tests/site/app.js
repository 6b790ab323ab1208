// Proves the script was fetched and ran: the text changes and a yellow box
// appears (both visible in --dump-dom and in the screenshot).
document.getElementById("status").textContent = "script ran";
var box = document.createElement("div");
box.id = "done";
document.body.appendChild(box);
