"""The incidents service's call-taking: places, possible duplicates, further callers,
premise cautions, a place's history and the key questions."""

from icc.incident.v1 import incident_service_pb2 as pb
from icc_incidents import convert
from icc_incidents.api.base import ApiBase, tag
from icc_kernel.errors import Violation, raise_if_any
from icc_rpc import Context
from icc_rpc.authz import actor_of
from icc_rpc.convert import page_size


class CallTakingRpcs(ApiBase):
    async def SearchPlaces(
        self, request: pb.SearchPlacesRequest, context: Context
    ) -> pb.SearchPlacesResponse:
        near = convert.location_or_none(request, "near")
        found = await self._places.search(request.query, near, request.max_results)
        return pb.SearchPlacesResponse(places=[convert.place_to_proto(p) for p in found])

    async def FindPossibleDuplicates(
        self, request: pb.FindPossibleDuplicatesRequest, context: Context
    ) -> pb.FindPossibleDuplicatesResponse:
        found = await self._calls.find_duplicates(
            convert.location_or_none(request, "location"), request.type_code, request.caller_phone
        )
        return pb.FindPossibleDuplicatesResponse(
            duplicates=[convert.duplicate_to_proto(d) for d in found]
        )

    async def AddCaller(
        self, request: pb.AddCallerRequest, context: Context
    ) -> pb.AddCallerResponse:
        tag(request.parent)
        out: list[Violation] = []
        caller = convert.caller_from_proto(request.caller, out)
        raise_if_any(out)
        await self._visible(request.parent)
        incident, replayed = await self._calls.add_caller(
            request.parent, caller, request.request_id, actor_of(context)
        )
        return pb.AddCallerResponse(incident=await self._answer(incident), replayed=replayed)

    async def CreateCaution(
        self, request: pb.CreateCautionRequest, context: Context
    ) -> pb.CreateCautionResponse:
        out: list[Violation] = []
        draft = convert.caution_draft_from_proto(request.caution, out)
        raise_if_any(out)
        caution, replayed = await self._calls.create_caution(
            draft, request.request_id, actor_of(context)
        )
        return pb.CreateCautionResponse(
            caution=convert.caution_to_proto(caution), replayed=replayed
        )

    async def ListCautions(
        self, request: pb.ListCautionsRequest, context: Context
    ) -> pb.ListCautionsResponse:
        out: list[Violation] = []
        most = page_size(request.max_results, default=20, most=100, out=out, field="max_results")
        raise_if_any(out)
        found = await self._calls.list_cautions(
            convert.location_or_none(request, "near"), request.radius_m, most
        )
        return pb.ListCautionsResponse(cautions=[convert.caution_to_proto(c) for c in found])

    async def GetPlaceHistory(
        self, request: pb.GetPlaceHistoryRequest, context: Context
    ) -> pb.GetPlaceHistoryResponse:
        found = await self._calls.place_history(convert.location_or_none(request, "near"))
        return pb.GetPlaceHistoryResponse(history=[convert.history_to_proto(h) for h in found])

    async def ListKeyQuestions(
        self, request: pb.ListKeyQuestionsRequest, context: Context
    ) -> pb.ListKeyQuestionsResponse:
        questions = self._calls.key_questions(request.type_code)
        return pb.ListKeyQuestionsResponse(
            questions=[convert.question_to_proto(q) for q in questions]
        )

    async def AnswerKeyQuestions(
        self, request: pb.AnswerKeyQuestionsRequest, context: Context
    ) -> pb.AnswerKeyQuestionsResponse:
        tag(request.name)
        await self._visible(request.name)
        incident = await self._calls.answer_questions(
            request.name,
            convert.answers_from_proto(request.answers),
            request.etag,
            actor_of(context),
        )
        return pb.AnswerKeyQuestionsResponse(incident=await self._answer(incident))
